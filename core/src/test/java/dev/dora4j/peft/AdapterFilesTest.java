package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterFilesTest {
    static Path peftAdapter() throws Exception {
        return Path.of(AdapterFilesTest.class.getResource("/fixtures/merge/adapter/adapter_config.json").toURI()).getParent();
    }

    @Test
    void readsAnAdapterWrittenInPeftsLayout() throws Exception {
        AdapterFiles.Loaded loaded = AdapterFiles.read(peftAdapter());
        AdapterConfig c = (AdapterConfig) loaded.config();
        assertThat(c.useDora()).isTrue();
        assertThat(c.r()).isEqualTo(4);
        assertThat(c.targetModules()).containsExactlyInAnyOrder("q_proj", "v_proj", "down_proj");
        assertThat(loaded.modules()).containsKeys("model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj");
        AdapterWeights q1 = (AdapterWeights) loaded.modules().get("model.layers.1.self_attn.q_proj");
        assertThat(q1.rank()).isEqualTo(2);
        assertThat(c.scalingFor("model.layers.1.self_attn.q_proj")).isEqualTo(4f);
        assertThat(c.scalingFor("model.layers.0.mlp.down_proj")).isEqualTo(4f);
        assertThat(q1.magnitude()).hasSize(q1.out());
    }

    @Test
    void writtenAdapterHasPeftsKeysAndConfigAndReadsBack(@TempDir Path tmp) throws Exception {
        SplittableRandom rng = new SplittableRandom(1);
        Map<String, Linear> layers = new LinkedHashMap<>();
        for (String p : List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.mlp.up_proj")) {
            float[] w = new float[6 * 8];
            for (int i = 0; i < w.length; i++) w[i] = (float) rng.nextGaussian();
            layers.put(p, new Linear(p, Tensor.of(w, 6, 8), null));
        }
        AdapterConfig cfg = AdapterConfig.create(2, 4, 0.05f, List.of("q_proj", "up_proj"), true, true, "CAUSAL_LM", "tiny");
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.inject(layers, cfg, null, 7));
        assertThat(adapters).containsOnlyKeys("model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj");
        for (LoraAdapter a : adapters.values()) for (int i = 0; i < a.loraB().numel(); i++) a.loraB().data()[i] = 0.01f * i;
        Path dir = tmp.resolve("adapter");
        AdapterFiles.write(dir, cfg, adapters);

        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
            assertThat(f.tensors()).extracting(t -> t.name()).containsExactly(
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector",
                    "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight",
                    "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight",
                    "base_model.model.model.layers.0.mlp.up_proj.lora_magnitude_vector");
            assertThat(f.metadata()).containsEntry("format", "pt");
        }
        JsonNode json = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(json.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(json.get("use_dora").asBoolean()).isTrue();
        assertThat(json.get("use_rslora").asBoolean()).isTrue();
        assertThat(json.get("r").asInt()).isEqualTo(2);
        assertThat(json.get("lora_alpha").asDouble()).isEqualTo(4.0);
        assertThat(json.get("lora_dropout").asDouble()).isEqualTo(0.05);
        assertThat(json.get("target_modules")).hasSize(2);
        assertThat(json.get("task_type").asText()).isEqualTo("CAUSAL_LM");
        List<String> keys = new java.util.ArrayList<>();
        json.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).isSorted();

        AdapterFiles.Loaded back = AdapterFiles.read(dir);
        for (var e : adapters.entrySet()) {
            AdapterWeights w = (AdapterWeights) back.modules().get(e.getKey());
            assertThat(w.loraA()).isEqualTo(e.getValue().loraA().data());
            assertThat(w.loraB()).isEqualTo(e.getValue().loraB().data());
            assertThat(w.magnitude()).isEqualTo(e.getValue().magnitude().data());
        }
        Map<String, Linear> fresh = new LinkedHashMap<>();
        layers.forEach((k, v) -> fresh.put(k, new Linear(k, v.weight().copy(), null)));
        AdapterInjector.attach(fresh, back, null, false, 0);
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 8);
        adapters.values().forEach(a -> a.dropout().training(false));
        for (String p : adapters.keySet()) {
            assertThat(fresh.get(p).forward(Tape.inference(), x).data())
                    .isEqualTo(layers.get(p).forward(Tape.inference(), x).data());
        }
    }

    @Test
    void rejectsMismatchedShapesNamingTheTensor(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("bad");
        Files.createDirectories(dir);
        Files.copy(peftAdapter().resolve("adapter_config.json"), dir.resolve("adapter_config.json"));
        new SafetensorsWriter()
                .add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", new float[4 * 16], new long[] {4, 16}, DType.F32)
                .add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", new float[16 * 3], new long[] {16, 3}, DType.F32)
                .write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> AdapterFiles.read(dir))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("adapter_model.safetensors")
                .hasMessageContaining("model.layers.0.self_attn.q_proj.lora_B.weight");
    }

    @Test
    void rejectsBadConfigs(@TempDir Path tmp) throws Exception {
        String good = Files.readString(peftAdapter().resolve("adapter_config.json"));
        Map<String, String> cases = Map.of(
                "\"r\": 0", good.replace("\"r\": 4", "\"r\": 0"),
                "peft_type", good.replace("\"LORA\"", "\"PREFIX_TUNING\""),
                "not valid JSON", good.substring(0, good.length() / 2),
                "target_modules", good.replaceAll("(?s)\"target_modules\": \\[.*?\\]", "\"target_modules\": null"));
        for (var e : cases.entrySet()) {
            Path dir = tmp.resolve("c" + Math.abs(e.getKey().hashCode()));
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("adapter_config.json"), e.getValue());
            assertThatThrownBy(() -> AdapterConfig.read(dir)).as(e.getKey())
                    .isInstanceOf(DoraException.class)
                    .hasMessageContaining("adapter_config.json");
        }
    }

    @Test
    void pickleAdaptersAreRefusedWithAHint(@TempDir Path tmp) throws Exception {
        Files.copy(peftAdapter().resolve("adapter_config.json"), tmp.resolve("adapter_config.json"));
        Files.write(tmp.resolve("adapter_model.bin"), new byte[] {(byte) 0x80, 2});
        assertThatThrownBy(() -> AdapterFiles.read(tmp)).isInstanceOf(DoraException.class).hasMessageContaining("pickle");
    }
}
