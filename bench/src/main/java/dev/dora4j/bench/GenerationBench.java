package dev.dora4j.bench;

import dev.dora4j.generate.Generator;
import dev.dora4j.generate.Sampler;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.model.BundledModel;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterTensor;
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
 * Greedy decoding of 128 tokens from BOS with the bundled stories260K: the base model, the model
 * with a frozen DoRA adapter (r 8 on every linear layer, random non-zero B, as an adapter loaded
 * for inference) applied unmerged, and the same adapter merged. Merged must cost what the base costs (zero inference overhead); the unmerged
 * figure is DoRA's overhead when adapters are kept separate.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 6, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
@State(Scope.Benchmark)
public class GenerationBench {
    @Param({"base", "dora-unmerged", "dora-merged"})
    public String variant;

    private LlamaModel model;

    @Setup
    public void setUp() {
        Parallel.setThreads(1);
        model = LlamaLoader.load(BundledModel.checkpoint());
        if (variant.equals("base")) return;
        AdapterConfig cfg = AdapterConfig.create(8, 16, 0f,
                List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), true, false, "CAUSAL_LM", "s");
        Map<String, Adapter> adapters = AdapterInjector.inject(model.linears(), cfg, LlamaModel.OUTPUT_HEAD, 1);
        SplittableRandom rng = new SplittableRandom(2);
        for (Adapter a : adapters.values()) {
            for (AdapterTensor t : a.tensors()) {
                float[] v = t.tensor().data();
                if (t.group() == AdapterTensor.Group.UP) {
                    for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextDouble() - 0.5) * 0.02f;
                }
                t.tensor().requiresGrad(false);
            }
        }
        if (variant.equals("dora-merged")) model.linears().values().forEach(Linear::merge);
    }

    @Benchmark
    public int[] generate128() {
        return new Generator(model, 129).generate(new int[] {1}, 128, new Sampler(0, 1, 0), t -> false, null);
    }
}
