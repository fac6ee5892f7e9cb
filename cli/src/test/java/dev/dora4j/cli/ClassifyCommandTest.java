package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train --task classify} and {@code eval --task classify} on all-MiniLM-L6-v2 with SST-2 sentences. */
class ClassifyCommandTest {
    @TempDir
    static Path tmp;
    static Path model, train, dev;

    @BeforeAll
    static void setUp() throws Exception {
        model = tmp.resolve("minilm");
        CliRun r = CliRun.of("convert", "--onnx", ConvertOnnxCliTest.jar().toString(), "--out", model.toString());
        assertThat(r.code()).as(r.err()).isZero();
        Path sst = shared("classification/sst2-sentence/stsa.binary.train");
        List<String> lines = Files.readAllLines(sst);
        train = tmp.resolve("stsa.binary.train");
        dev = tmp.resolve("stsa.binary.dev");
        Files.write(train, lines.subList(0, 48));
        Files.write(dev, lines.subList(48, 80));
    }

    static Path shared(String relative) {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve("../shared/data").resolve(relative).normalize();
            if (Files.exists(p)) return p;
        }
        throw new AssertionError("shared data file missing: ../shared/data/" + relative);
    }

    @Test
    void trainWritesASeqClsAdapterThatEvalAndEmbedRead() throws Exception {
        Path out = tmp.resolve("run");
        CliRun t = CliRun.of("train", "--task", "classify", "--model", model.toString(), "--data", train.toString(),
                "--eval-data", dev.toString(), "--out", out.toString(), "--method", "dora", "--rank", "4", "--steps", "3",
                "--batch", "16", "--micro-batch", "8", "--lr", "3e-3", "--warmup-steps", "0");
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(t.err()).contains("classify: 2 labels [0, 1], mean pooling").contains("accuracy");
        assertThat(out.resolve("adapter_model.safetensors")).exists();
        assertThat(out.resolve("classification.json")).exists();
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertThat(cfg.get("task_type").asText()).isEqualTo("SEQ_CLS");
        assertThat(cfg.get("target_modules")).extracting(JsonNode::asText).containsExactlyInAnyOrder("query", "key", "value", "dense");
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        JsonNode lastEval = new ObjectMapper().readTree(metrics.getLast());
        assertThat(lastEval.has("eval_accuracy")).isTrue();

        CliRun e = CliRun.of("eval", "--task", "classify", "--model", model.toString(), "--adapter", out.toString(), "--data",
                dev.toString(), "--json");
        assertThat(e.code()).as(e.err()).isZero();
        JsonNode scores = new ObjectMapper().readTree(e.out());
        assertThat(scores.get("examples").asInt()).isEqualTo(32);
        assertThat(scores.get("accuracy").asDouble()).isEqualTo(lastEval.get("eval_accuracy").asDouble());
        assertThat(scores.get("macro_f1").asDouble()).isEqualTo(lastEval.get("eval_macro_f1").asDouble());

        CliRun emb = CliRun.of("embed", "--model", model.toString(), "--adapter", out.toString(), "--text", "a fine film", "--json");
        assertThat(emb.code()).as(emb.err()).isZero();
    }

    @Test
    void classifyNeedsItsFilesAndSaysSo() {
        CliRun noModel = CliRun.of("train", "--task", "classify", "--data", train.toString(), "--out", tmp.resolve("x").toString());
        assertThat(noModel.code()).isEqualTo(1);
        assertThat(noModel.errorLines()).containsExactly("error: --task classify needs --model (a BERT model directory)");
        CliRun noHead = CliRun.of("eval", "--task", "classify", "--model", model.toString(), "--data", dev.toString());
        assertThat(noHead.code()).isEqualTo(1);
        assertThat(noHead.errorLines()).hasSize(1);
        assertThat(noHead.errorLines().getFirst()).contains("classification.json: not found");
        CliRun causal = CliRun.of("eval", "--model", model.toString(), "--data", dev.toString());
        assertThat(causal.code()).isEqualTo(1);
        assertThat(causal.errorLines().getFirst()).contains("model_type 'bert' is not supported").contains("--task classify");
    }
}
