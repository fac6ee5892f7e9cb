package dev.dora4j.analysis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.model.BundledModel;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ΔM and ΔD of VeRA and DVoRA runs: each snapshot's merged weight, as the method merges it, against the base. */
class AdapterMethodsAnalysisTest {
    @ParameterizedTest
    @ValueSource(strings = {"vera", "dvora"})
    void analysesAVeraRunFromItsCheckpoints(String method, @TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("train.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 8; i++) lines.add("{\"text\": \"Once upon a time, Sue had a small boat number " + i + ".\"}");
        Files.write(data, lines);
        TrainConfig cfg = new TrainConfig(BundledModel.checkpoint().toString(), null, data.toString(), null, method, 8, 8,
                0f, List.of("q_proj", "v_proj"), false, 2e-2f, "adamw", 0f, 1, 4, 2, 2, 32, 0, "linear", 1.0f, 7,
                true, false, null, 0, 2, 0, 1f, false, false);
        Path out = tmp.resolve("run");
        TrainingRun.start(cfg, out, null).run(m -> {}, Long.MAX_VALUE);

        List<Point> points = WeightDecomposition.analyze(BundledModel.checkpoint(), List.of(out), List.of("q_proj"));
        assertThat(points).isNotEmpty().allMatch(p -> p.method().equals(method));
        assertThat(points.stream().mapToLong(Point::step).distinct().sorted().toArray()).containsExactly(2, 4);
        assertThat(points).allMatch(p -> p.deltaD() > 0 && p.deltaM() > 0);

        // the analysed rows are the merged weight: check one layer against merging the adapter into the model's layer
        var model = dev.dora4j.model.Llama2cLoader.load(BundledModel.checkpoint());
        Map<String, Linear> linears = new LinkedHashMap<>(model.linears());
        AdapterInjector.attach(linears, AdapterFiles.read(out), "lm_head", false, 0);
        Linear q0 = linears.get("model.layers.0.self_attn.q_proj");
        float[] w0 = q0.weight().toFloatArray();
        q0.merge();
        float[] merged = q0.weight().toFloatArray();
        Matrix base = new Matrix("w0", w0, q0.outFeatures(), q0.inFeatures());
        WeightDeltas.Delta expected = WeightDeltas.measure(base, WeightDeltas.explicit(merged, q0.inFeatures()));
        Point last = points.stream().filter(p -> p.step() == 4 && p.layer() == 0).findFirst().orElseThrow();
        assertThat(last.deltaM()).isCloseTo(expected.deltaM(), org.assertj.core.data.Offset.offset(1e-5 * expected.deltaM() + 1e-9));
        assertThat(last.deltaD()).isCloseTo(expected.deltaD(), org.assertj.core.data.Offset.offset(1e-4 * expected.deltaD() + 1e-9));
    }
}
