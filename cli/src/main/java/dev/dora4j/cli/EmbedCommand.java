package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.eval.SentenceEmbeddings;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.model.ModelTypes;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "embed", mixinStandardHelpOptions = true,
        description = {"Sentence embeddings of texts with a BERT encoder (e.g. all-MiniLM-L6-v2 converted with convert --onnx):"
                + " the last hidden state mean-pooled over each text's tokens (or its [CLS] token) and L2-normalised, as"
                + " sentence-transformers computes them; texts are cut to the tokenizer's truncation length."})
final class EmbedCommand implements Callable<Integer> {
    private static final int SHOWN = 6;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face BERT model directory.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer.json (default: the model directory's).")
    Path tokenizer;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA/DoRA adapter, applied unmerged.")
    Path adapter;

    @Option(names = "--text", paramLabel = "TEXT", description = "A text to embed; repeat for more.")
    List<String> texts;

    @Option(names = "--spark", paramLabel = "MASTER", description = "Embed --data on Spark (local[N], spark://HOST:PORT, ...) into --out.")
    String spark;

    @Option(names = "--data", paramLabel = "FILE", description = "--spark: records with a text field: JSONL {\"text\"}, CSV with a header or Parquet (a path every executor can read).")
    Path data;

    @Option(names = "--out", paramLabel = "DIR", description = "--spark: new directory for part-NNNNN.jsonl files of {\"index\", \"embedding\"} lines.")
    Path out;

    @Option(names = "--partitions", defaultValue = "0", paramLabel = "N", description = "--spark: input partitions (default: Spark's parallelism).")
    int partitions;

    @Option(names = "--pooling", defaultValue = "mean", paramLabel = "mean|cls",
            description = "mean (over the tokens) or cls (the first token's hidden state); default: ${DEFAULT-VALUE}.")
    String pooling;

    @Option(names = "--batch", defaultValue = "32", paramLabel = "N", description = "Texts per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Mixin
    StorageOptions storage;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object: {\"embeddings\": [[...], ...]}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        if (!pooling.equals("mean") && !pooling.equals("cls")) {
            throw new DoraException("--pooling '" + pooling + "' is not one of mean, cls");
        }
        if (batch < 1) throw new DoraException("--batch must be at least 1, got " + batch);
        if (spark != null) return onSpark(start);
        if (texts == null || texts.isEmpty()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "Missing required option: '--text=TEXT' (or --spark with --data and --out)");
        }
        if (threads != null) dev.dora4j.kernel.Parallel.setThreads(threads);
        String type = ModelTypes.modelType(model);
        if (!type.equals("bert")) {
            throw new DoraException(model.resolve("config.json") + ": model_type '" + type + "'; embed needs a BERT encoder");
        }
        BertModel bert = BertLoader.loadWithAdapter(model, adapter, storage.storage());
        float[][] vectors;
        int maxLength;
        long truncated;
        try (Tokenizer tok = Tokenizers.load(model, tokenizer)) {
            SentenceEmbeddings embeddings = new SentenceEmbeddings(bert, tok, pooling);
            maxLength = embeddings.maxLength();
            truncated = texts.stream().filter(t -> tok.encode(t, true, true).length > embeddings.maxLength()).count();
            vectors = embeddings.embed(texts, batch);
        }
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode root = mapper.createObjectNode();
            ArrayNode all = root.putArray("embeddings");
            for (float[] v : vectors) {
                ArrayNode row = all.addArray();
                for (float x : v) row.add(x);
            }
            System.out.println(mapper.writeValueAsString(root));
        } else {
            for (int i = 0; i < vectors.length; i++) System.out.println(line(i, vectors[i]));
        }
        if (truncated > 0) {
            System.err.printf("note: %d text(s) longer than %d tokens were truncated%n", truncated, maxLength);
        }
        System.err.printf(Locale.ROOT, "embedded %d text(s) (%s pooling, %d dimensions%s) in %.2f s%n", vectors.length,
                pooling, vectors.length == 0 ? 0 : vectors[0].length, adapter != null ? ", adapter " + adapter : "",
                (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private int onSpark(long start) {
        if (data == null || out == null) throw new DoraException("--spark needs --data FILE and --out DIR");
        if (texts != null) throw new DoraException("--text and --spark do not go together; put the texts in --data");
        long records = SparkBackend.load().embed(spark, model, tokenizer, adapter, storage.storage(), pooling, batch, data, out, partitions,
                Main.debug);
        System.err.printf(Locale.ROOT, "embedded %d record(s) on Spark in %.1f s; wrote %s%n", records, (System.nanoTime() - start) / 1e9, out);
        System.out.println(out);
        return 0;
    }

    /** {@code i  [v0 v1 ... v5 ...]  norm 1.000000}. */
    static String line(int index, float[] v) {
        StringBuilder s = new StringBuilder().append(index).append("  [");
        for (int j = 0; j < Math.min(SHOWN, v.length); j++) {
            s.append(j == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.6f", v[j]));
        }
        if (v.length > SHOWN) s.append(" ...");
        double norm = 0;
        for (float x : v) norm += (double) x * x;
        return s.append("]  dim ").append(v.length).append("  norm ")
                .append(String.format(Locale.ROOT, "%.6f", Math.sqrt(norm))).toString();
    }
}
