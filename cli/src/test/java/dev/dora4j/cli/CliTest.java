package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CliTest {
    static final Path FIXTURES = Path.of("../core/src/test/resources/fixtures/merge");

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CliRun r = CliRun.of(args);
        return new Run(r.code(), r.out(), r.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--help", "merge --help", "inspect --help"})
    void helpExitsZero(String args) {
        Run r = run(args.split(" "));
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage:");
    }

    @Test
    void mergeWritesAModelDirectory(@TempDir Path tmp) {
        Path out = tmp.resolve("merged");
        Run r = run("merge", "--model", FIXTURES.resolve("model").toString(), "--adapter",
                FIXTURES.resolve("adapter").toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve("config.json")).exists();
        assertThat(r.err()).contains("merged DoRA adapter into 6 weights");
    }

    @Test
    void combineWritesOneAdapterAndMergeTakesSeveral(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("combined");
        Run r = run("combine", "--adapter", FIXTURES.resolve("adapter") + ":0.7", "--adapter", FIXTURES.resolve("adapter") + ":0.3",
                "--method", "svd", "--rank", "3", "--model", FIXTURES.resolve("model").toString(), "--out", out.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertThat(json.get("rank").asInt()).isEqualTo(3);
        assertThat(json.get("dora").asBoolean()).isTrue();
        assertThat(json.get("relative_errors").size()).isPositive();
        assertThat(out.resolve("adapter_config.json")).exists();

        Run noModel = run("combine", "--adapter", FIXTURES.resolve("adapter").toString(), "--out", tmp.resolve("x").toString());
        assertThat(noModel.code()).isEqualTo(1);
        assertThat(noModel.err()).contains("--model is required");

        Path merged = tmp.resolve("merged");
        Run m = run("merge", "--model", FIXTURES.resolve("model").toString(), "--adapter", FIXTURES.resolve("adapter").toString(),
                "--adapter", FIXTURES.resolve("adapter_lora").toString(), "--out", merged.toString());
        assertThat(m.code()).as(m.err()).isZero();
        assertThat(m.err()).contains("merged 2 adapters (DoRA among them)");
    }

    @Test
    void mergeErrorIsOneLineAndWritesNothing(@TempDir Path tmp) {
        Path out = tmp.resolve("merged");
        Run r = run("merge", "--model", FIXTURES.resolve("model").toString(), "--adapter",
                tmp.resolve("missing").toString(), "--out", out.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("error: ").contains("missing");
        assertThat(out).doesNotExist();
    }

    @Test
    void lyingHeaderIsReportedWithTheFile(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model");
        Files.createDirectories(model);
        Files.copy(FIXTURES.resolve("model/config.json"), model.resolve("config.json"));
        byte[] good = Files.readAllBytes(FIXTURES.resolve("model/model.safetensors"));
        Files.write(model.resolve("model.safetensors"), java.util.Arrays.copyOf(good, good.length - 100));
        Run r = run("merge", "--model", model.toString(), "--adapter", FIXTURES.resolve("adapter").toString(),
                "--out", tmp.resolve("out").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("model.safetensors").doesNotContain("\tat ");
        assertThat(tmp.resolve("out")).doesNotExist();
    }

    @Test
    void inspectListsTensorsAndCounts() throws Exception {
        Run r = run("inspect", "--json", FIXTURES.resolve("adapter").toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("kind").asText()).isEqualTo("adapter");
        assertThat(json.get("config").get("use_dora").asBoolean()).isTrue();
        assertThat(json.get("tensor_count").asInt()).isEqualTo(18);
        long sum = 0, bytes = 0;
        for (JsonNode t : json.get("tensors")) {
            long n = 1;
            for (JsonNode d : t.get("shape")) n *= d.asLong();
            sum += n;
            assertThat(t.get("bytes").asLong()).isEqualTo(4 * n);
            bytes += t.get("bytes").asLong();
        }
        assertThat(json.get("parameters").asLong()).isEqualTo(sum);
        assertThat(json.get("bytes").asLong()).isEqualTo(bytes);
        assertThat(json.get("bits_per_parameter").asDouble()).isEqualTo(32.0);

        Run text = run("inspect", FIXTURES.resolve("model").toString());
        assertThat(text.code()).isZero();
        assertThat(text.out()).contains("model.layers.0.self_attn.q_proj.weight").contains("BF16").contains("21 tensors");
    }

    @Test
    void trainsADvoraAdapterThatInspectDescribes(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("data.jsonl"), out = tmp.resolve("dvora");
        java.nio.file.Files.writeString(data, "{\"text\": \"Once upon a time, Tom had a red ball.\"}\n"
                + "{\"text\": \"Sue liked to play with her small boat by the sea.\"}\n");
        Run r = run("train", "--data", data.toString(), "--out", out.toString(), "--method", "dvora", "--rank", "16",
                "--targets", "q_proj,v_proj,down_proj", "--vera-d-initial", "0.2", "--projection-prng-key", "7", "--loraplus-lr-ratio", "4",
                "--steps", "2", "--batch", "2", "--micro-batch", "2", "--seq-len", "32");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode config = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertThat(config.get("peft_type").asText()).isEqualTo("VERA");
        assertThat(config.get("use_dora").asBoolean()).isTrue();
        assertThat(config.get("d_initial").asDouble()).isEqualTo(0.2);
        assertThat(config.get("projection_prng_key").asLong()).isEqualTo(7);
        assertThat(config.get("save_projection").asBoolean()).isTrue();

        Run inspect = run("inspect", "--json", out.toString());
        assertThat(inspect.code()).as(inspect.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(inspect.out());
        assertThat(json.get("method").asText()).isEqualTo("dvora");
        int modules = json.get("modules").asInt();
        assertThat(modules).isPositive();
        long lambdaAndMagnitude = 0;
        for (JsonNode t : json.get("tensors")) {
            String name = t.get("name").asText();
            assertThat(name).matches("base_model\\.vera_[AB]|base_model\\.model\\..*\\.(vera_lambda_b|vera_lambda_d|vera_magnitude_vector)");
            if (!name.startsWith("base_model.vera_")) lambdaAndMagnitude += t.get("shape").get(0).asLong();
        }
        assertThat(json.get("trained_parameters").asLong()).isEqualTo(lambdaAndMagnitude);
        assertThat(json.get("shared_frozen_parameters").asLong()).isPositive();
        assertThat(run("inspect", out.toString()).out()).contains("method: dvora");
    }
}
