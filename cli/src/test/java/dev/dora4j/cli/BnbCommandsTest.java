package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.LlamaLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** inspect and merge on the bitsandbytes checkpoints of core's fixtures (tools/gen_bnb_fixtures.py). */
class BnbCommandsTest {
    private static final Path BNB = Path.of("..", "core", "src", "test", "resources", "fixtures", "bnb");
    private static final Path DORA = Path.of("..", "core", "src", "test", "resources", "fixtures", "models", "llama_gqa",
            "adapter_dora");

    @Test
    void inspectReportsStorageBitsAndBytesOfEachQuantisedWeight() throws Exception {
        CliRun run = CliRun.of("inspect", BNB.resolve("llama_nf4_dq").toString(), "--json");
        assertThat(run.code()).isZero();
        JsonNode report = new ObjectMapper().readTree(run.out());
        JsonNode quantized = report.get("quantized");
        assertThat(quantized).hasSize(14);
        JsonNode up = quantized.get(2);
        assertThat(up.get("name").asText()).isEqualTo("model.layers.0.mlp.up_proj.weight");
        assertThat(up.get("storage").asText()).isEqualTo("NF4");
        assertThat(up.get("shape").toString()).isEqualTo("[48,32]");
        assertThat(up.get("block_size").asInt()).isEqualTo(64);
        assertThat(up.get("double_quant").asBoolean()).isTrue();
        // 768 code bytes, 24 absmax codes, 1 nested absmax, the 256 + 16 float maps and the quant_state JSON
        long json = up.get("bytes").asLong() - 768 - 24 - 4 - 1024 - 64;
        assertThat(json).isBetween(150L, 200L);
        assertThat(up.get("bits_per_weight").asDouble()).isCloseTo(8.0 * up.get("bytes").asLong() / (48 * 32),
                org.assertj.core.data.Offset.offset(1e-9));
        // parameters count the weights the codes stand for, not the packed bytes or the quant state
        assertThat(report.get("parameters").asLong()).isEqualTo(CliRun.of("inspect",
                Path.of("..", "core", "src", "test", "resources", "fixtures", "models", "llama_gqa").toString(), "--json")
                .out().lines().filter(l -> l.contains("\"parameters\"")).map(l -> Long.parseLong(l.replaceAll("\\D", "")))
                .findFirst().orElseThrow());
    }

    @Test
    void mergeWritesTheDequantisedModelInTheRequestedDtype(@TempDir Path tmp) {
        Path out = tmp.resolve("merged");
        CliRun run = CliRun.of("merge", "--model", BNB.resolve("llama_int8").toString(), "--adapter", DORA.toString(),
                "--out", out.toString(), "--dtype", "bf16");
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(Files.exists(out.resolve("config.json"))).isTrue();
        LlamaLoader.load(out).linears().values().forEach(l -> assertThat(l.weight().storage()).isEqualTo(WeightStorage.BF16));
        CliRun bad = CliRun.of("merge", "--model", BNB.resolve("llama_int8").toString(), "--adapter", DORA.toString(),
                "--out", tmp.resolve("bad").toString(), "--dtype", "nf4");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains("--dtype must be f32, bf16 or f16, got nf4");
        assertThat(Files.exists(tmp.resolve("bad"))).isFalse();
    }

    @Test
    void trainAndGenerateQuantiseTheBaseAtLoad(@TempDir Path tmp) {
        Path out = tmp.resolve("qdora");
        CliRun train = CliRun.of("train", "--quantize", "nf4", "--double-quant", "--out", out.toString(), "--steps", "1",
                "--batch", "2", "--micro-batch", "2", "--seq-len", "32");
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(Files.exists(out.resolve("adapter_model.safetensors"))).isTrue();
        CliRun generate = CliRun.of("generate", "--quantize", "int8", "--adapter", out.toString(), "--prompt", "Pip",
                "--max-new-tokens", "3", "--json");
        assertThat(generate.code()).as(generate.err()).isZero();
        CliRun full = CliRun.of("train", "--method", "full", "--quantize", "nf4", "--out", tmp.resolve("full").toString());
        assertThat(full.code()).isEqualTo(1);
        assertThat(full.err()).contains("--method full trains every weight in float32");
        assertThat(Files.exists(tmp.resolve("full"))).isFalse();
    }
}
