package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.autograd.Tape;
import dev.dora4j.eval.ClassificationEvaluator;
import dev.dora4j.eval.ClassificationMetrics;
import dev.dora4j.eval.Score;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.model.ClassifierInfo;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sequence-classification training end to end on a small BERT: learning, files, resume, loading for inference. */
class TrainClassifierTest {
    @TempDir
    static Path shared;
    static Path model, train, dev;

    @BeforeAll
    static void setUp() throws Exception {
        model = TinyBert.write(shared.resolve("bert"), 5);
        // sentiment carried by one word among neutral filler: separable, but only through the encoder's tokens
        String[] pos = {"great", "wonderful", "good", "excellent"}, neg = {"awful", "bad", "terrible", "boring"};
        String[] filler = {"the film was", "this movie is", "what a", "i found it", "honestly a really"};
        SplittableRandom r = new SplittableRandom(9);
        StringBuilder tr = new StringBuilder(), dv = new StringBuilder();
        for (int i = 0; i < 96; i++) {
            boolean p = r.nextBoolean();
            String word = (p ? pos : neg)[r.nextInt(4)];
            String line = (p ? "1 " : "0 ") + filler[r.nextInt(filler.length)] + " " + word + " .\n";
            (i < 64 ? tr : dv).append(line);
        }
        train = shared.resolve("stsa.binary.train");
        dev = shared.resolve("stsa.binary.dev");
        Files.writeString(train, tr);
        Files.writeString(dev, dv);
    }

    static TrainConfig config(String method, int epochs, int saveEvery, float dropout, float lr) {
        return new TrainConfig(model.toString(), null, train.toString(), dev.toString(), method, 4, 8, dropout,
                List.of("query", "key", "value", "dense"), false, lr, "adamw", 0.01f, epochs, 0, 16, 8, 32, 2, "linear",
                1.0f, 3, true, false, null, 0, saveEvery, 0, 1f, false, false, TrainConfig.CLASSIFY, null, false, null, null,
                false);
    }

    @Test
    void doraLearnsTheTaskAndWritesAPeftSeqClsAdapter(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        TrainingRun run = TrainingRun.start(config("dora", 12, 0, 0f, 2e-2f), out, null);
        assertThat(run.classifier().model().labels()).containsExactly("0", "1");
        assertThat(run.classifier().model().pooling()).isEqualTo("mean");
        ClassificationMetrics before = (ClassificationMetrics) run.trainer().evaluate();
        List<Score> evals = new ArrayList<>();
        List<Double> losses = new ArrayList<>();
        run.run(new Trainer.Listener() {
            @Override
            public void onStep(Trainer.StepMetrics m) {
                losses.add(m.loss());
            }

            @Override
            public void onEval(long step, Score s) {
                evals.add(s);
            }
        }, Long.MAX_VALUE);
        ClassificationMetrics after = (ClassificationMetrics) evals.getLast();
        assertThat(after.loss()).isLessThan(before.loss() * 0.5);
        assertThat(after.accuracy()).isGreaterThanOrEqualTo(0.9);
        assertThat(losses.getLast()).isLessThan(losses.getFirst() * 0.5);

        try (SafetensorsFile f = SafetensorsFile.open(out.resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(f.tensors()).extracting(t -> t.name()).contains("base_model.model.classifier.weight",
                    "base_model.model.classifier.bias",
                    "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight",
                    "base_model.model.bert.encoder.layer.1.output.dense.lora_magnitude_vector");
        }
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertThat(cfg.get("task_type").asText()).isEqualTo("SEQ_CLS");
        assertThat(cfg.get("use_dora").asBoolean()).isTrue();
        assertThat(ClassifierInfo.read(out)).isEqualTo(new ClassifierInfo(List.of("0", "1"), "mean"));

        // loaded from files for inference: the same logits as the trained model in memory
        BertClassifier loaded = BertClassifier.load(model, out, null);
        var examples = run.classifier().evalData().examples();
        var p = ClassificationEvaluator.Packed.of(examples, new int[] {0, 1, 2, 3});
        float[] a = run.classifier().model().logits(Tape.inference(), p.ids(), p.offsets()).data();
        float[] b = loaded.logits(Tape.inference(), p.ids(), p.offsets()).data();
        for (int i = 0; i < a.length; i++) assertThat((double) b[i]).isCloseTo(a[i], org.assertj.core.data.Offset.offset(1e-4));
        assertThat(ClassificationEvaluator.evaluate(loaded, examples, 7).accuracy()).isEqualTo(after.accuracy());
    }

    @Test
    void interruptedClassifierRunResumesToTheSameAdapter(@TempDir Path tmp) throws Exception {
        TrainConfig cfg = config("dora", 2, 3, 0.1f, 1e-2f);
        Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
        TrainingRun.start(cfg, straight, null).run(m -> {}, Long.MAX_VALUE);
        TrainingRun first = TrainingRun.start(cfg, killed, null);
        first.run(m -> {}, 5);
        TrainingRun resumed = TrainingRun.resume(killed, null);
        assertThat(resumed.trainer().step()).isEqualTo(3);
        resumed.run(m -> {}, Long.MAX_VALUE);
        assertThat(Files.readAllBytes(killed.resolve(AdapterFiles.WEIGHTS_FILE)))
                .isEqualTo(Files.readAllBytes(straight.resolve(AdapterFiles.WEIGHTS_FILE)));
    }

    @Test
    void fullFineTuningWritesASequenceClassificationModel(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("full");
        TrainingRun run = TrainingRun.start(config("full", 1, 0, 0f, 1e-3f), out, null);
        run.run(m -> {}, Long.MAX_VALUE);
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(cfg.get("architectures").get(0).asText()).isEqualTo("BertForSequenceClassification");
        assertThat(cfg.get("id2label").get("1").asText()).isEqualTo("1");
        assertThat(out.resolve("tokenizer.json")).exists();
        BertClassifier loaded = BertClassifier.load(out, null, null);
        var examples = run.classifier().evalData().examples();
        assertThat(ClassificationEvaluator.evaluate(loaded, examples, 8).accuracy())
                .isEqualTo(ClassificationEvaluator.evaluate(run.classifier().model(), examples, 8).accuracy());
        assertThat(loaded.head().weight().data()).isEqualTo(run.classifier().model().head().weight().data());
    }

    @Test
    void labelsOutsideTheTrainingSetAreReportedWithTheirLine(@TempDir Path tmp) throws Exception {
        Path badDev = tmp.resolve("stsa.binary.bad");
        Files.writeString(badDev, "1 good\n2 what\n");
        TrainConfig c = config("lora", 1, 0, 0f, 1e-3f);
        TrainConfig bad = new TrainConfig(c.model(), null, c.data(), badDev.toString(), "lora", 4, 8, 0f, c.targets(), false,
                1e-3f, "adamw", 0f, 1, 0, 16, 8, 32, 0, "linear", 1f, 3, true, false, null, 0, 0, 0, 1f, false, false,
                TrainConfig.CLASSIFY, null, false, null, null, false);
        assertThatThrownBy(() -> TrainingRun.start(bad, tmp.resolve("x"), null)).isInstanceOf(DoraException.class)
                .hasMessage(badDev + ":2: label '2' is not one of the training labels [0, 1]");
    }
}
