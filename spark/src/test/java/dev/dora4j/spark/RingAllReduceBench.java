package dev.dora4j.spark;

import dev.dora4j.tensor.Tensor;
import dev.dora4j.train.GradientReducer.Totals;
import dev.dora4j.train.Parameter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The cost of one {@link RingAllReduce} per optimizer step: 1, 4 and 40 MB of gradients on 2 and 4 ranks (threads of
 * this JVM over loopback TCP), median of 10 after 3 warm-up rounds; then a least-squares fit of the ring's cost model
 * {@code T(N, S) = 2(N−1)·α + 2(N−1)/N · S · β} and the step time it predicts at 8 and 64 workers for a given compute
 * time and gradient size. Run: {@code bench/spark-allreduce.sh}.
 * Arguments: compute seconds per step, gradient MB of the model (defaults: base DoRA, 1.38 s, 11.6 MB).
 */
public final class RingAllReduceBench {
    private RingAllReduceBench() {}

    public static void main(String[] args) throws Exception {
        double compute = args.length > 0 ? Double.parseDouble(args[0]) : 1.38;
        double modelMb = args.length > 1 ? Double.parseDouble(args[1]) : 11.6;
        int[] rankCounts = {2, 4};
        double[] sizesMb = {1, 4, 40};
        List<double[]> points = new ArrayList<>();
        System.out.println("| ranks | gradient MB | all-reduce ms (median of 10) | GB/s per rank sent |");
        System.out.println("|---|---|---|---|");
        for (int ranks : rankCounts) {
            for (double mb : sizesMb) {
                int floats = (int) (mb * 1e6 / 4);
                List<Object> results = RingAllReduceTest.onRing(ranks, Duration.ofSeconds(60), 0, (rank, ring) -> {
                    Tensor t = Tensor.param(new float[floats], floats);
                    List<Parameter> p = List.of(new Parameter("g", t, true, 1f));
                    double[] times = new double[13];
                    for (int i = 0; i < times.length; i++) {
                        Arrays.fill(t.grad(), rank + i);
                        long start = System.nanoTime();
                        ring.allReduce(i + 1, p, new Totals(0, 0));
                        times[i] = (System.nanoTime() - start) / 1e9;
                    }
                    double[] timed = Arrays.copyOfRange(times, 3, times.length);
                    Arrays.sort(timed);
                    return timed[timed.length / 2];
                });
                double seconds = 0;
                for (Object r : results) seconds = Math.max(seconds, (Double) r);
                double sent = 2.0 * (ranks - 1) / ranks * mb * 1e6;
                points.add(new double[] {ranks, mb * 1e6, seconds});
                System.out.printf(Locale.ROOT, "| %d | %.0f | %.1f | %.2f |%n", ranks, mb, seconds * 1e3, sent / seconds / 1e9);
            }
        }
        double[] fit = fit(points);
        double alpha = fit[0], beta = fit[1];
        System.out.printf(Locale.ROOT, "%nfit: alpha (per hop) %.1f us, beta %.3f ns/byte (%.2f GB/s per link)%n", alpha * 1e6, beta * 1e9,
                1 / beta / 1e9);
        System.out.printf(Locale.ROOT, "%nmodel: compute %.2f s per step per worker, %.1f MB of gradients%n", compute, modelMb);
        System.out.println("| workers | link | all-reduce s | step s | scaling efficiency |");
        System.out.println("|---|---|---|---|---|");
        for (int n : new int[] {2, 8, 64}) {
            for (String link : new String[] {"measured loopback", "10 Gbit/s, 50 us"}) {
                double a = link.startsWith("measured") ? alpha : 50e-6, b = link.startsWith("measured") ? beta : 1 / 1.25e9;
                double comm = 2.0 * (n - 1) * a + 2.0 * (n - 1) / n * modelMb * 1e6 * b;
                System.out.printf(Locale.ROOT, "| %d | %s | %.3f | %.3f | %.0f %% |%n", n, link, comm, compute + comm,
                        100 * compute / (compute + comm));
            }
        }
    }

    /** Least squares of seconds = x·alpha + y·beta with x = 2(N−1), y = 2(N−1)/N·S. */
    private static double[] fit(List<double[]> points) {
        double xx = 0, xy = 0, yy = 0, xt = 0, yt = 0;
        for (double[] p : points) {
            double x = 2 * (p[0] - 1), y = 2 * (p[0] - 1) / p[0] * p[1], t = p[2];
            xx += x * x;
            xy += x * y;
            yy += y * y;
            xt += x * t;
            yt += y * t;
        }
        double det = xx * yy - xy * xy;
        return new double[] {Math.max(0, (xt * yy - yt * xy) / det), (yt * xx - xt * xy) / det};
    }
}
