package dev.dora4j.bench;

import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/** Vector primitives: single vectors of n floats, and row operations over [rows, cols] = [1024, n]. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
@Threads(1)
@State(Scope.Benchmark)
public class VecOpsBench {
    @Param({"512", "4096"})
    public int n;

    @Param({"1", "2"})
    public int threads;

    private static final int ROWS = 1024;
    private float[] a, b, c, rows, rowsB, out;

    @Setup
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(7);
        a = GemmBench.random(n, rnd);
        b = GemmBench.random(n, rnd);
        c = new float[n];
        rows = GemmBench.random(ROWS * n, rnd);
        rowsB = GemmBench.random(ROWS * n, rnd);
        out = new float[ROWS];
        Parallel.setThreads(threads);
    }

    @Benchmark
    public float dot() {
        return VecOps.dot(a, 0, b, 0, n);
    }

    @Benchmark
    public float[] axpy() {
        VecOps.axpy(1e-3f, a, 0, c, 0, n);
        return c;
    }

    @Benchmark
    public float[] add() {
        VecOps.add(a, 0, b, 0, c, 0, n);
        return c;
    }

    @Benchmark
    public float sumSquares() {
        return VecOps.sumSquares(a, 0, n);
    }

    @Benchmark
    public float[] rowSumSquares() {
        VecOps.rowSumSquares(rows, 0, ROWS, n, out);
        return out;
    }

    @Benchmark
    public float[] rowDots() {
        VecOps.rowDots(rows, 0, rowsB, 0, ROWS, n, out);
        return out;
    }

    @Benchmark
    public float[] softmaxRows() {
        VecOps.softmaxRows(rowsB, 0, ROWS, n);
        return rowsB;
    }
}
