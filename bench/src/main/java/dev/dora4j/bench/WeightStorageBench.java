package dev.dora4j.bench;

import dev.dora4j.kernel.Bf16Matrix;
import dev.dora4j.kernel.F16Matrix;
import dev.dora4j.kernel.F32Matrix;
import dev.dora4j.kernel.FourBitMatrix;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Int8Matrix;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.kernel.WeightStorage;
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

/**
 * A frozen weight's products in each storage: x·Wᵀ for a training batch (tokens × in) and for one decoding row, and
 * g·W. Compare the storages at the same shape: training products should cost about the same in every storage (the
 * widening is spread over the rows of a packed panel), decoding should get faster as the weight gets smaller.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
@Threads(1)
@State(Scope.Benchmark)
public class WeightStorageBench {
    @Param({"F32", "BF16", "F16", "INT8", "NF4"})
    public String storage;

    /** tokens x in x out. */
    @Param({"512x768x2048", "1x2048x8192"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private int m;
    private WeightMatrix w;
    private float[] x, y, g, dx;

    @Setup
    public void setup() {
        String[] dims = shape.split("x");
        m = Integer.parseInt(dims[0]);
        int in = Integer.parseInt(dims[1]), out = Integer.parseInt(dims[2]);
        SplittableRandom rnd = new SplittableRandom(42);
        float[] values = random(out * in, rnd);
        w = switch (storage) {
            case "BF16" -> Bf16Matrix.of(values, out, in);
            case "F16" -> F16Matrix.of(values, out, in);
            case "INT8" -> Int8Matrix.quantize(values, out, in);
            case "NF4" -> FourBitMatrix.quantize(values, out, in, WeightStorage.NF4, 64, false);
            default -> new F32Matrix(values, out, in);
        };
        x = random(m * in, rnd);
        g = random(m * out, rnd);
        y = new float[m * out];
        dx = new float[m * in];
        Parallel.setThreads(threads);
    }

    /** y = x·Wᵀ. */
    @Benchmark
    public float[] xWt() {
        Gemm.xWt(x, 0, w, y, 0, m, false, null, null);
        return y;
    }

    /** dx = g·W. */
    @Benchmark
    public float[] gW() {
        Gemm.gW(g, 0, w, null, dx, 0, m, false);
        return dx;
    }

    private static float[] random(int size, SplittableRandom rnd) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }
}
