package dev.dora4j.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * This machine's float32 fused-multiply-add peak, measured: each thread runs chains of independent vector FMAs on
 * values held in registers (enough chains to cover the FMA latency on two pipes), and the GEMM ceiling: the best rate
 * of a large square x·Wᵀ. Fractions of peak are quoted against these, not against a figure from another processor.
 */
public final class PeakFlops {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** FMAs per inner step: 16 independent chains. */
    private static final int CHAINS = 16;
    /** Rounds per call: short calls, so the method is compiled whole rather than replaced mid-loop. */
    private static final int STEPS = 2_000;

    private PeakFlops() {}

    /** GFLOP/s of {@code threads} threads each running register-only FMA chains for about {@code millis} ms. */
    public static double fma(int threads, long millis) {
        if (threads <= 0) throw new IllegalArgumentException("threads must be positive, got " + threads);
        for (int i = 0; i < 20_000; i++) chains(STEPS);
        double[] rates = new double[threads];
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread w = Thread.ofPlatform().daemon().start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                long steps = 0, t0 = System.nanoTime(), deadline = t0 + millis * 1_000_000L;
                float sink = 0;
                while (System.nanoTime() < deadline) {
                    for (int i = 0; i < 100; i++) sink += chains(STEPS);
                    steps += 100L * STEPS;
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                rates[id] = 2.0 * CHAINS * S.length() * steps / seconds / 1e9 + (sink == 42f ? 1e-30 : 0);
            });
            workers.add(w);
        }
        start.countDown();
        for (Thread w : workers) {
            try {
                w.join(millis + 60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while measuring the FMA peak", e);
            }
        }
        double sum = 0;
        for (double r : rates) sum += r;
        return sum;
    }

    /** GFLOP/s of the best of {@code repeats} products x·Wᵀ of size n × n × n on the current kernel threads. */
    public static double gemm(int n, int repeats) {
        float[] x = new float[n * n], w = new float[n * n], y = new float[n * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (i % 7) * 0.01f;
            w[i] = (i % 5) * 0.01f;
        }
        Gemm.xWt(x, 0, w, 0, y, 0, n, n, n, false);
        double best = 0;
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            Gemm.xWt(x, 0, w, 0, y, 0, n, n, n, false);
            best = Math.max(best, 2.0 * n * n * n / ((System.nanoTime() - t0) / 1e9) / 1e9);
        }
        return best;
    }

    // steps rounds of 16 independent FMA chains; returns a lane so the work is not dropped
    private static float chains(int steps) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), a = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, 1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (int i = 0; i < steps; i++) {
            c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a);
            c4 = c4.fma(m, a); c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a);
            c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
            c12 = c12.fma(m, a); c13 = c13.fma(m, a); c14 = c14.fma(m, a); c15 = c15.fma(m, a);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .add(c12).add(c13).add(c14).add(c15).lane(0);
    }
}
