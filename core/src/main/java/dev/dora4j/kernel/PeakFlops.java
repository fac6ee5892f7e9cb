package dev.dora4j.kernel;

import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * This machine's float32 fused-multiply-add peak, measured: each thread runs chains of independent vector FMAs on
 * values held in registers (enough chains to cover the FMA latency on two pipes), and the GEMM ceiling: the best rate
 * of a large square x·Wᵀ. Fractions of peak are quoted against these, not against a figure from another processor.
 */
public final class PeakFlops {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** FMAs per inner step: 24 independent chains. */
    private static final int CHAINS = 24;
    /** Rounds per call: short calls, so the method is compiled whole rather than replaced mid-loop. */
    private static final int STEPS = 2_000;
    /** Length of one measured window. */
    private static final long WINDOW_MS = 50;

    private PeakFlops() {}

    /**
     * GFLOP/s of {@code threads} threads each running register-only FMA chains, for about {@code millis} ms in all: the
     * threads run windows of {@value #WINDOW_MS} ms in step (each window starts when every thread is ready) and the
     * best window's sum counts. Whatever else runs on the machine (a collector finishing its cycle, a compiler thread,
     * another process) can only slow a window down, so the best one is the machine's peak.
     */
    public static double fma(int threads, long millis) {
        if (threads <= 0) throw new IllegalArgumentException("threads must be positive, got " + threads);
        for (int i = 0; i < 20_000; i++) chains(STEPS);
        int windows = (int) Math.max(1, millis / WINDOW_MS);
        double[][] rates = new double[windows][threads];
        CyclicBarrier together = new CyclicBarrier(threads);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().daemon().start(() -> {
                try {
                    for (int w = 0; w < windows; w++) {
                        together.await(60, TimeUnit.SECONDS);
                        rates[w][id] = rate(WINDOW_MS);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (BrokenBarrierException | TimeoutException e) {
                    // another thread stopped: its windows read zero
                }
            }));
        }
        for (Thread w : workers) {
            try {
                if (!w.join(Duration.ofMillis(windows * WINDOW_MS + 60_000))) {
                    throw new IllegalStateException("measuring the FMA peak: a thread did not finish within a minute");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while measuring the FMA peak", e);
            }
        }
        double best = 0;
        for (double[] window : rates) {
            double sum = 0;
            for (double r : window) sum += r;
            best = Math.max(best, sum);
        }
        return best;
    }

    // one thread's GFLOP/s over about millis ms
    private static double rate(long millis) {
        long steps = 0, t0 = System.nanoTime(), deadline = t0 + millis * 1_000_000L;
        float sink = 0;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < 100; i++) sink += chains(STEPS);
            steps += 100L * STEPS;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return 2.0 * CHAINS * S.length() * steps / seconds / 1e9 + (sink == 42f ? 1e-30 : 0);
    }

    /**
     * GFLOP/s of the best of {@code repeats} products x·Wᵀ of size n × n × n on the current kernel threads, after two
     * seconds of them as warm-up.
     */
    public static double gemm(int n, int repeats) {
        float[] x = new float[n * n], w = new float[n * n], y = new float[n * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (i % 7) * 0.01f;
            w[i] = (i % 5) * 0.01f;
        }
        // two seconds of products first, so that the best of the repeats is taken from compiled kernels (after one
        // second, 5 repeats of n = 1024 read 292-324 GFLOP/s on 2 threads; after 600 of them, 365-371)
        for (long deadline = System.nanoTime() + 2_000_000_000L; System.nanoTime() < deadline; ) {
            Gemm.xWt(x, 0, w, 0, y, 0, n, n, n, false);
        }
        double best = 0;
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            Gemm.xWt(x, 0, w, 0, y, 0, n, n, n, false);
            best = Math.max(best, 2.0 * n * n * n / ((System.nanoTime() - t0) / 1e9) / 1e9);
        }
        return best;
    }

    // steps rounds of 24 independent FMA chains; returns a lane so the work is not dropped. Its bytecode is over C2's
    // FreqInlineSize (325 bytes), so it is always compiled on its own, never inlined into the timing loop: inlined,
    // 16 chains ran at half this rate in some processes (110 against 220 GFLOP/s on one thread, AMD EPYC, 512-bit).
    private static float chains(int steps) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), a = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, 1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        FloatVector c16 = c0, c17 = c0, c18 = c0, c19 = c0, c20 = c0, c21 = c0, c22 = c0, c23 = c0;
        for (int i = 0; i < steps; i++) {
            c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a);
            c4 = c4.fma(m, a); c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a);
            c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
            c12 = c12.fma(m, a); c13 = c13.fma(m, a); c14 = c14.fma(m, a); c15 = c15.fma(m, a);
            c16 = c16.fma(m, a); c17 = c17.fma(m, a); c18 = c18.fma(m, a); c19 = c19.fma(m, a);
            c20 = c20.fma(m, a); c21 = c21.fma(m, a); c22 = c22.fma(m, a); c23 = c23.fma(m, a);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .add(c12).add(c13).add(c14).add(c15).add(c16).add(c17).add(c18).add(c19).add(c20).add(c21)
                .add(c22).add(c23).lane(0);
    }
}
