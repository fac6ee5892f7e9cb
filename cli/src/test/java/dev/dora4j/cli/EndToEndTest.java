package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands together on the real stories260K: convert, train, eval, merge, generate. */
class EndToEndTest {
    static final Path STORIES = Path.of("../../shared/data/models/stories260K/stories260K.bin");

    @Test
    void convertTrainEvalMergeGenerate(@TempDir Path tmp) throws Exception {
        assertThat(STORIES).as("shared data: stories260K").exists();
        ObjectMapper json = new ObjectMapper();
        Path hf = tmp.resolve("hf");
        CliTest.Run convert = CliTest.run("convert", "--llama2c", STORIES.toString(), "--out", hf.toString());
        assertThat(convert.code()).as(convert.err()).isZero();
        assertThat(hf.resolve("config.json")).exists();
        assertThat(hf.resolve("tokenizer.bin")).exists();

        Path data = tmp.resolve("data.jsonl");
        Files.write(data, List.of(
                "{\"prompt\": \"Once upon a time, Tom\", \"completion\": \" had a red ball. He liked to play.\"}",
                "{\"text\": \"One day, a little bird sang in the tree. The bird was happy.\"}",
                "{\"instruction\": \"Say hello.\", \"input\": \"\", \"output\": \"Hello!\"}"));
        CliTest.Run base = CliTest.run("eval", "--model", hf.toString(), "--data", data.toString(), "--json");
        assertThat(base.code()).as(base.err()).isZero();
        JsonNode baseEval = json.readTree(base.out());
        CliTest.Run original = CliTest.run("eval", "--model", STORIES.toString(), "--data", data.toString(), "--json");
        assertThat(json.readTree(original.out()).get("loss").asDouble())
                .as("the converted model scores as the llama2.c checkpoint").isCloseTo(baseEval.get("loss").asDouble(),
                        org.assertj.core.data.Offset.offset(1e-5));

        Path run = tmp.resolve("run");
        CliTest.Run train = CliTest.run("train", "--model", hf.toString(), "--data", data.toString(), "--out", run.toString(),
                "--steps", "4", "--batch", "3", "--micro-batch", "2", "--lr", "1e-2", "--warmup-steps", "0", "--rank", "4",
                "--alpha", "8", "--dropout", "0", "--save-every", "2", "--threads", "1");
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(run.resolve("adapter_model.safetensors")).exists();
        assertThat(run.resolve("checkpoints/step-4/adapter_config.json")).exists();
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(4);

        CliTest.Run adapted = CliTest.run("eval", "--model", hf.toString(), "--adapter", run.toString(), "--data", data.toString(), "--json");
        JsonNode adaptedEval = json.readTree(adapted.out());
        assertThat(adaptedEval.get("loss").asDouble()).isLessThan(baseEval.get("loss").asDouble());

        Path merged = tmp.resolve("merged");
        assertThat(CliTest.run("merge", "--model", hf.toString(), "--adapter", run.toString(), "--out", merged.toString()).code()).isZero();
        JsonNode mergedEval = json.readTree(CliTest.run("eval", "--model", merged.toString(), "--data", data.toString(), "--json").out());
        assertThat(mergedEval.get("loss").asDouble()).isCloseTo(adaptedEval.get("loss").asDouble(), org.assertj.core.data.Offset.offset(1e-4));
        assertThat(mergedEval.get("tokens").asLong()).isEqualTo(baseEval.get("tokens").asLong());

        JsonNode a = json.readTree(CliTest.run("generate", "--model", merged.toString(), "--max-new-tokens", "24", "--json").out());
        JsonNode b = json.readTree(CliTest.run("generate", "--model", hf.toString(), "--adapter", run.toString(), "--max-new-tokens", "24",
                "--json").out());
        assertThat(a.get("ids")).hasSize(24);
        assertThat(a.get("ids")).isEqualTo(b.get("ids"));
        assertThat(a.get("text").asText()).isNotBlank();
    }
}
