package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A SEQ_CLS adapter keeps its classifier head whole, under PEFT's keys for modules_to_save. */
class ModulesToSaveTest {
    @Test
    void classifierHeadIsWrittenAndReadUnderPeftsKeys(@TempDir Path tmp) throws Exception {
        Map<String, Linear> layers = new LinkedHashMap<>();
        String q = "bert.encoder.layer.0.attention.self.query";
        layers.put(q, new Linear(q, Tensor.of(new float[4 * 4], 4, 4), Tensor.of(new float[4], 4)));
        AdapterConfig cfg = new AdapterConfig(2, 4, 0f, List.of("query"), null, true, false, null, null, "none",
                List.of("classifier", "score"), "SEQ_CLS", "tiny-bert", null);
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.inject(layers, cfg, "classifier", 3));
        float[] w = {1, 2, 3, 4, 5, 6, 7, 8};
        Map<String, Tensor> head = new LinkedHashMap<>();
        head.put("classifier.weight", Tensor.of(w, 2, 4));
        head.put("classifier.bias", Tensor.of(new float[] {0.5f, -0.5f}, 2));
        Path dir = tmp.resolve("a");
        dev.dora4j.io.AtomicFiles.writeDirectory(dir, d -> AdapterFiles.writeFiles(d, cfg, adapters, head));
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(f.tensors()).extracting(t -> t.name()).contains("base_model.model.classifier.weight",
                    "base_model.model.classifier.bias", "base_model.model." + q + ".lora_A.weight");
        }
        JsonNode json = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(json.get("task_type").asText()).isEqualTo("SEQ_CLS");
        assertThat(json.get("modules_to_save")).extracting(JsonNode::asText).containsExactly("classifier", "score");

        AdapterFiles.Loaded loaded = AdapterFiles.read(dir);
        assertThat(loaded.modules()).containsOnlyKeys(q);
        assertThat(loaded.saved()).containsOnlyKeys("classifier.weight", "classifier.bias");
        assertThat(loaded.saved().get("classifier.weight").values()).containsExactly(w);
        assertThat(loaded.saved().get("classifier.weight").shape()).containsExactly(2, 4);
    }

    @Test
    void tensorsOutsideModulesToSaveAreRefused(@TempDir Path tmp) {
        AdapterConfig cfg = new AdapterConfig(2, 4, 0f, List.of("query"), null, false, false, null, null, "none",
                List.of("classifier"), "SEQ_CLS", "tiny-bert", null);
        assertThatThrownBy(() -> AdapterFiles.writeFiles(tmp, cfg, Map.of(), Map.of("pooler.dense.weight",
                Tensor.of(new float[4], 2, 2)))).isInstanceOf(IllegalArgumentException.class);
        assertThat(AdapterFiles.isSavedModule("bert.classifier.weight", cfg)).isTrue();
        assertThat(AdapterFiles.isSavedModule("classifier.weight", cfg)).isTrue();
        assertThat(AdapterFiles.isSavedModule("myclassifier.weight", cfg)).isFalse();
        assertThat(AdapterFiles.isSavedModule("bert.encoder.layer.0.attention.self.query.lora_A.weight", cfg)).isFalse();
    }
}
