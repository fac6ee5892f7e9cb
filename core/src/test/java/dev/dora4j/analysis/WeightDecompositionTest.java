package dev.dora4j.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.model.BundledModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The analysis on fake runs against tools/gen_analysis_fixtures.py's float64 NumPy numbers. */
class WeightDecompositionTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures/analysis");
    static final Path BASE = Path.of("src/test/resources/fixtures/models/llama_gqa");
    static final List<Path> RUNS = List.of(FIXTURES.resolve("lora"), FIXTURES.resolve("dora"), FIXTURES.resolve("full"));
    static final double REL = 1e-6;

    static JsonNode expected;
    static WeightDecomposition.Analysis analysis;

    @BeforeAll
    static void analyse() throws Exception {
        expected = new ObjectMapper().readTree(FIXTURES.resolve("expected.json").toFile());
        analysis = WeightDecomposition.run(BASE, RUNS, WeightDecomposition.DEFAULT_MODULES, message -> {});
    }

    @Test
    void everyPointMatchesTheReference() {
        Map<String, Point> byKey = new HashMap<>();
        for (Point p : analysis.points()) byKey.put(key(p.run(), p.step(), p.layer(), p.module()), p);
        assertThat(analysis.points()).hasSize(expected.get("points").size());
        for (JsonNode e : expected.get("points")) {
            String key = key(e.get("run").asText(), e.get("step").asLong(), e.get("layer").asInt(), e.get("module").asText());
            Point p = byKey.get(key);
            assertThat(p).as(key).isNotNull();
            assertThat(p.method()).as(key).isEqualTo(e.get("method").asText());
            assertClose(key + " delta_m", p.deltaM(), e.get("delta_m").asDouble());
            assertClose(key + " delta_d", p.deltaD(), e.get("delta_d").asDouble());
        }
    }

    @Test
    void correlationAndSlopeMatchTheReference() {
        List<Summary> summaries = analysis.summaries();
        assertThat(summaries).extracting(Summary::run).containsExactly("lora", "dora", "full");
        for (Summary s : summaries) {
            JsonNode e = expected.get("summary").get(s.run());
            assertThat(s.method()).isEqualTo(e.get("method").asText());
            assertThat(s.points()).isEqualTo(e.get("points").asInt());
            assertClose(s.run() + " pearson", s.pearson(), e.get("pearson").asDouble());
            assertClose(s.run() + " slope", s.slope(), e.get("slope").asDouble());
            assertClose(s.run() + " intercept", s.intercept(), e.get("intercept").asDouble());
            assertClose(s.run() + " mean delta_m", s.meanDeltaM(), e.get("mean_delta_m").asDouble());
            assertClose(s.run() + " mean delta_d", s.meanDeltaD(), e.get("mean_delta_d").asDouble());
        }
    }

    @Test
    void stepsMethodsAndOrderComeFromTheRunDirectories() {
        assertThat(analysis.runs()).extracting(RunDirectory::method).containsExactly("lora", "dora", "full");
        assertThat(analysis.runs().get(0).steps()).containsExactly(2L, 4L, 6L);
        assertThat(analysis.runs().get(1).steps()).as("final output at the last checkpoint's step counts once").containsExactly(3L, 6L);
        assertThat(analysis.runs().get(2).steps()).containsExactly(5L, 10L);
        Point first = analysis.points().getFirst();
        assertThat(List.of(first.run(), first.step(), first.layer(), first.module())).containsExactly("lora", 2L, 0, "q_proj");
    }

    @Test
    void aRunDirectoryWithoutWeightsIsRefused(@TempDir Path tmp) throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> WeightDecomposition.analyze(BASE, List.of(empty), WeightDecomposition.DEFAULT_MODULES))
                .isInstanceOf(DoraException.class).hasMessageContaining(empty.toString()).hasMessageContaining("no checkpoints");
        assertThatThrownBy(() -> WeightDecomposition.analyze(BASE, List.of(tmp.resolve("nope")), WeightDecomposition.DEFAULT_MODULES))
                .isInstanceOf(DoraException.class).hasMessageContaining("nope").hasMessageContaining("not found");
    }

    @Test
    void aModuleTheModelLacksIsNamed() {
        assertThatThrownBy(() -> WeightDecomposition.analyze(BASE, RUNS, List.of("q_proj", "w_proj")))
                .isInstanceOf(DoraException.class).hasMessageContaining("llama_gqa").hasMessageContaining("'w_proj'")
                .hasMessageContaining("q_proj, v_proj)");
    }

    @Test
    void aModuleTheAdapterDoesNotTargetIsNamed() {
        assertThatThrownBy(() -> WeightDecomposition.analyze(BASE, List.of(FIXTURES.resolve("lora")), List.of("o_proj")))
                .isInstanceOf(DoraException.class).hasMessageContaining("adapter_model.safetensors")
                .hasMessageContaining("model.layers.0.self_attn.o_proj.lora_A.weight");
    }

    @Test
    void shapeMismatchesNameTheFileAndTensor() {
        Path other = BundledModel.checkpoint();
        assertThatThrownBy(() -> WeightDecomposition.analyze(other, List.of(FIXTURES.resolve("lora")), List.of("q_proj")))
                .isInstanceOf(DoraException.class).hasMessageContaining("lora/checkpoints/step-2/adapter_model.safetensors")
                .hasMessageContaining("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").hasMessageContaining("[4, 64]");
        assertThatThrownBy(() -> WeightDecomposition.analyze(other, List.of(FIXTURES.resolve("full")), List.of("q_proj")))
                .isInstanceOf(DoraException.class).hasMessageContaining("model.safetensors")
                .hasMessageContaining("'model.layers.0.self_attn.q_proj.weight' has shape [32, 32]");
    }

    @Test
    void aMethodThatContradictsTheFilesIsRefused(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        Files.createDirectories(run);
        for (String f : List.of("adapter_config.json", "adapter_model.safetensors", "metrics.jsonl")) {
            Files.copy(FIXTURES.resolve("lora").resolve(f), run.resolve(f));
        }
        Files.writeString(run.resolve("run.json"), "{\"method\": \"dora\"}");
        assertThatThrownBy(() -> WeightDecomposition.analyze(BASE, List.of(run), List.of("q_proj")))
                .isInstanceOf(DoraException.class).hasMessageContaining("adapter_config.json")
                .hasMessageContaining("a LoRA adapter but the run is a DoRA adapter");
    }

    @Test
    void runsWithTheSameDirectoryNameGetDistinctLabels() {
        List<Path> twice = List.of(FIXTURES.resolve("dora"), FIXTURES.resolve("dora"));
        List<Point> points = WeightDecomposition.analyze(BASE, twice, List.of("v_proj"));
        assertThat(points).extracting(Point::run).containsOnly("dora", "dora-2");
        assertThat(points).hasSize(8);
    }

    private static String key(String run, long step, int layer, String module) {
        return run + "/" + step + "/" + layer + "/" + module;
    }

    static void assertClose(String what, double actual, double expected) {
        assertThat(Double.isFinite(actual)).as(what + " finite").isTrue();
        double err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
        assertThat(err).as("%s: %s vs expected %s", what, actual, expected).isLessThanOrEqualTo(REL);
    }
}
