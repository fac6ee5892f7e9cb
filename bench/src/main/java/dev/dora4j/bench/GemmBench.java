package dev.dora4j.bench;

import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The three matrix-product layouts at the sizes training uses. The {@code gflops} counter is the figure to read:
 * 2·m·k·n floating-point operations per call, per second, in units of 10⁹.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
@Threads(1)
@State(Scope.Benchmark)
public class GemmBench {
    /** Products as m x k x n: tokens x in x out, as in x·Wᵀ with x: [m, k], w: [n, k]. */
    @Param({"1024x512x512", "1024x512x1376", "1024x1376x512", "1024x512x16", "1024x16x512"})
    public String shape;

    /** Threads of the kernel pool. */
    @Param({"1", "2"})
    public int threads;

    private int m, k, n;
    private float[] x, w, y, g, dx, dw;

    /** Counts floating-point work; JMH reports it per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Flops {
        public double gflops;

        @Setup(Level.Iteration)
        public void reset() {
            gflops = 0;
        }
    }

    @Setup
    public void setup() {
        String[] dims = shape.split("x");
        m = Integer.parseInt(dims[0]);
        k = Integer.parseInt(dims[1]);
        n = Integer.parseInt(dims[2]);
        SplittableRandom rnd = new SplittableRandom(42);
        x = random(m * k, rnd);
        w = random(n * k, rnd);
        g = random(m * n, rnd);
        y = new float[m * n];
        dx = new float[m * k];
        dw = new float[n * k];
        Parallel.setThreads(threads);
    }

    private double work() {
        return 2.0 * m * k * n / 1e9;
    }

    /** y = x·Wᵀ. x: [m, k], w: [n, k] -> y: [m, n]. */
    @Benchmark
    public float[] xWt(Flops flops) {
        Gemm.xWt(x, 0, w, 0, y, 0, m, k, n, false);
        flops.gflops += work();
        return y;
    }

    /** dx = g·W. g: [m, n], w: [n, k] -> dx: [m, k]. */
    @Benchmark
    public float[] gW(Flops flops) {
        Gemm.gW(g, 0, w, 0, dx, 0, m, n, k, false);
        flops.gflops += work();
        return dx;
    }

    /** dW = gᵀ·x. g: [m, n], x: [m, k] -> dw: [n, k]. */
    @Benchmark
    public float[] gtX(Flops flops) {
        Gemm.gtX(g, 0, x, 0, dw, 0, m, n, k, false);
        flops.gflops += work();
        return dw;
    }

    static float[] random(int size, SplittableRandom rnd) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }
}
