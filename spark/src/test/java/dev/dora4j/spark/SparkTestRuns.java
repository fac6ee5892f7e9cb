package dev.dora4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.LlamaWriter;
import dev.dora4j.model.RandomModels;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterWeights;
import dev.dora4j.tensor.DType;
import dev.dora4j.train.TrainConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Models, data and comparisons shared by the Spark tests. */
final class SparkTestRuns {
    private SparkTestRuns() {}

    /** A file of the project's shared data folder ({@code ../shared/data}); missing files fail the test. */
    static Path shared(String relative) {
        for (Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("../shared/data").resolve(relative).normalize();
            if (Files.exists(candidate)) return candidate;
        }
        fail("shared data file missing: ../shared/data/" + relative);
        return null;
    }

    static Path stories260K() {
        return shared("models/stories260K/stories260K.bin");
    }

    static Path tok512() {
        return shared("models/stories260K/tok512.bin");
    }

    /** A two-layer random Llama (hidden 48, GQA 4/2 heads, vocab 512) written as a Hugging Face directory. */
    static Path tinyLlama(Path dir) throws Exception {
        String json = """
                {"model_type": "llama", "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 128,
                 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}""";
        LlamaConfig c = LlamaConfig.parse(new ObjectMapper().readTree(json), "tiny");
        LlamaWriter.writeFiles(RandomModels.llama(c, 11), dir, DType.F32);
        return dir;
    }

    /** 24 short stories as {"text"} records. */
    static Path stories(Path dir) throws Exception {
        String[] names = {"Tom", "Sue", "Ben", "Lily", "Max", "Mia"};
        String[] things = {"a red ball", "a small boat", "a blue kite", "a big box"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            String n = names[i % names.length], t = things[(i / 3) % things.length];
            lines.add("{\"text\": \"Once upon a time, " + n + " had " + t + ". " + n + " liked to play with it"
                    + " every day".repeat(1 + i % 3) + ". One day it was lost, and " + n + " looked for it"
                    + (i % 2 == 0 ? " in the park." : " by the sea.") + "\"}");
        }
        Path file = dir.resolve("stories.jsonl");
        Files.write(file, lines);
        return file;
    }

    static TrainConfig config(Path model, Path tokenizer, Path data, String method, int steps, int batch, int micro, int saveEvery) {
        return new TrainConfig(model.toString(), tokenizer == null ? null : tokenizer.toString(), data.toString(), null, method, 4, 8,
                0f, List.of("q_proj", "v_proj", "up_proj", "down_proj"), false, 5e-3f, "adamw", 0.01f, 1, steps, batch, micro, 64,
                0, "linear", 1.0f, 7, true, false, null, 0, saveEvery, 0, 1f, false, false);
    }

    /** The largest |a − b| / max(|b|, 1e-3) over every adapter tensor of two adapter directories. */
    static double maxRelativeDifference(Path actual, Path expected) {
        Map<String, AdapterWeights> a = loraModules(actual), b = loraModules(expected);
        assertThat(a.keySet()).isEqualTo(b.keySet());
        double worst = 0;
        for (String path : b.keySet()) {
            worst = Math.max(worst, relative(a.get(path).loraA(), b.get(path).loraA()));
            worst = Math.max(worst, relative(a.get(path).loraB(), b.get(path).loraB()));
            if (b.get(path).isDora()) worst = Math.max(worst, relative(a.get(path).magnitude(), b.get(path).magnitude()));
        }
        return worst;
    }

    /** The largest ‖a − b‖ / ‖b‖ over the adapter tensors (A, B, magnitude of each module) of two adapter directories. */
    static double maxNormDifference(Path actual, Path expected) {
        Map<String, AdapterWeights> a = loraModules(actual), b = loraModules(expected);
        assertThat(a.keySet()).isEqualTo(b.keySet());
        double worst = 0;
        for (String path : b.keySet()) {
            worst = Math.max(worst, normDifference(a.get(path).loraA(), b.get(path).loraA()));
            worst = Math.max(worst, normDifference(a.get(path).loraB(), b.get(path).loraB()));
            if (b.get(path).isDora()) worst = Math.max(worst, normDifference(a.get(path).magnitude(), b.get(path).magnitude()));
        }
        return worst;
    }

    private static double normDifference(float[] a, float[] b) {
        double diff = 0, norm = 0;
        for (int i = 0; i < b.length; i++) {
            diff += (double) (a[i] - b[i]) * (a[i] - b[i]);
            norm += (double) b[i] * b[i];
        }
        return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
    }

    private static double relative(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double worst = 0;
        for (int i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-3));
        return worst;
    }

    /** The adapter tensors of two directories are the same bits. */
    static void assertSameAdapter(Path actual, Path expected) {
        Map<String, AdapterWeights> a = loraModules(actual), b = loraModules(expected);
        assertThat(a.keySet()).isEqualTo(b.keySet());
        for (String path : b.keySet()) {
            assertThat(a.get(path).loraA()).as(path + " A").containsExactly(b.get(path).loraA());
            assertThat(a.get(path).loraB()).as(path + " B").containsExactly(b.get(path).loraB());
            if (b.get(path).isDora()) assertThat(a.get(path).magnitude()).as(path + " m").containsExactly(b.get(path).magnitude());
        }
    }

    /** The LoRA/DoRA modules of an adapter directory as their concrete type, for comparing A, B and the magnitude. */
    static Map<String, AdapterWeights> loraModules(Path dir) {
        Map<String, AdapterWeights> out = new java.util.LinkedHashMap<>();
        AdapterFiles.read(dir).modules().forEach((k, v) -> out.put(k, (AdapterWeights) v));
        return out;
    }
}
