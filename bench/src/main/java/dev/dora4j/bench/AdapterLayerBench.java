package dev.dora4j.bench;

import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.AdapterTensor;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.Tensor;
import java.util.List;
import java.util.Map;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * One adapted linear layer, forward and backward, as training runs it: {@code tokens} rows through a frozen
 * [out, in] weight with a trainable rank-16 adapter (no dropout), the input's gradient included.
 * Compare {@code dora} with {@code lora} (same shapes) and with {@code frozen} (the base layer alone).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 6, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
@State(Scope.Benchmark)
public class AdapterLayerBench {
    /** frozen, or a registered adapter method (lora, dora, vera, dvora). */
    @Param({"frozen", "lora", "dora"})
    public String method;

    /** The adapter's rank (VeRA is usually run at 256: {@code -p rank=256}). */
    @Param({"16"})
    public int rank;

    /** in x out of the weight (base's: 768x768, 768x2048, 2048x768). */
    @Param({"512x512", "512x1376"})
    public String shape;

    @Param({"2"})
    public int threads;

    /** Rows of the input: 1024 is the small config's batch of 4 × 256; for base, {@code -p tokens=512}. */
    @Param({"1024"})
    public int tokens;

    private Linear layer;
    private float[] x, upstream;

    @Setup
    public void setUp() {
        Parallel.setThreads(threads);
        String[] p = shape.split("x");
        int in = Integer.parseInt(p[0]), out = Integer.parseInt(p[1]), r = rank;
        SplittableRandom rng = new SplittableRandom(1);
        layer = new Linear("layer", Tensor.of(random(rng, out * in, 0.05), out, in), null);
        if (!method.equals("frozen")) {
            PeftConfig config = PeftMethods.named(method).newConfig(AdapterSettings.of(r, 2f * r, 0f, List.of("layer"), false,
                    "CAUSAL_LM", "bench"));
            for (Adapter a : AdapterInjector.inject(Map.of("layer", layer), config, null, 1).values()) {
                for (AdapterTensor t : a.tensors()) {
                    // a trained state: the up projections (and VeRA's λ_b) away from their zero start
                    if (t.group() == AdapterTensor.Group.UP || t.key().endsWith("lambda_b")) {
                        float[] v = random(rng, t.tensor().numel(), 0.01);
                        System.arraycopy(v, 0, t.tensor().data(), 0, v.length);
                    }
                }
            }
        }
        x = random(rng, tokens * in, 1);
        upstream = random(rng, tokens * out, 1);
    }

    private static float[] random(SplittableRandom rng, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rng.nextDouble() - 0.5) * scale);
        return a;
    }

    @Benchmark
    public float[] forwardBackward() {
        Tensor input = Tensor.param(x, tokens, x.length / tokens);
        Tape tape = Tape.training();
        Tensor y = layer.forward(tape, input);
        System.arraycopy(upstream, 0, y.grad(), 0, upstream.length);
        tape.backwardFromSeeded();
        return input.grad();
    }
}
