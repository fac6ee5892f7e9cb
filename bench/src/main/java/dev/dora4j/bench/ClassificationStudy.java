package dev.dora4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.data.ClassificationData;
import dev.dora4j.data.ClassificationReader;
import dev.dora4j.data.LabeledText;
import dev.dora4j.eval.ClassificationEvaluator;
import dev.dora4j.eval.ClassificationMetrics;
import dev.dora4j.eval.Score;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.train.LiveHeap;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.Trainer;
import dev.dora4j.train.TrainingRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * DoRA against LoRA (and full fine-tuning) on a sequence-classification task: the learning rate of each method is
 * chosen on the dev set (rank 8, first seed; the same grid for LoRA and DoRA), then every rank and seed is trained with
 * it and scored on the test set. Each finished run appends one line to {@code results.jsonl} (a rerun skips the runs
 * already there); {@code results.md} is the table: test accuracy and macro-F1 as mean ± sample standard deviation over
 * seeds, trainable parameters, training tokens/s and the peak live heap of the run ({@link LiveHeap}).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.dora4j.bench.ClassificationStudy \
 *     --model MINILM_DIR --dataset sst2 --out study/sst2
 * </pre>
 *
 * Datasets: {@code sst2} (../shared/data/classification/sst2-sentence: stsa.binary.train / dev / test) and {@code trec}
 * (TREC.train and TREC.test with coarse labels; 500 training questions, drawn with a fixed seed, are held out as dev).
 */
public final class ClassificationStudy {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param methods adapter methods in order, each with a fixed rank (e.g. vera:256) or 0 for "search at rank 8, then
     *                every rank of {@code ranks}"
     */
    record Options(Path model, String dataset, Path data, Path out, int[] ranks, int seeds, float[] adapterLrs,
            float[] fullLrs, int epochs, int batch, int seqLen, float dropout, int threads, boolean full,
            Map<String, Integer> methods, String dtype, String quantize, boolean doubleQuant) {}

    private ClassificationStudy() {}

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        Parallel.setThreads(o.threads());
        Files.createDirectories(o.out());
        Path[] files = split(o);
        boolean coarse = o.dataset().equals("trec");
        Split split = new Split(files[0], files[1], ClassificationReader.read(files[0], coarse).size(),
                ClassificationReader.read(files[2], coarse));
        Path results = o.out().resolve("results.jsonl");
        Map<String, JsonNode> done = readResults(results);

        Map<String, Float> chosen = new LinkedHashMap<>();
        List<String> methods = new ArrayList<>(o.methods().keySet());
        if (o.full()) methods.add("full");
        for (String method : methods) {
            float[] grid = method.equals("full") ? o.fullLrs() : o.adapterLrs();
            int rank = method.equals("full") ? 0 : o.methods().get(method) > 0 ? o.methods().get(method) : 8;
            float best = grid[0];
            double bestDev = -1;
            for (float lr : grid) {
                JsonNode r = run(o, method, rank, lr, 0, split, results, done);
                double acc = r.get("dev_accuracy").asDouble();
                if (acc > bestDev) {
                    bestDev = acc;
                    best = lr;
                }
            }
            chosen.put(method, best);
            System.err.printf(Locale.ROOT, "%s: learning rate %.0e chosen (dev accuracy %.4f)%n", method, best, bestDev);
        }
        for (String method : methods) {
            int[] ranks = ranks(o, method);
            for (int rank : ranks) {
                for (int seed = 0; seed < o.seeds(); seed++) run(o, method, rank, chosen.get(method), seed, split, results, done);
            }
        }
        String table = table(o, chosen, readResults(results));
        Files.writeString(o.out().resolve("results.md"), table, StandardCharsets.UTF_8);
        System.out.print(table);
    }

    /** The ranks a method runs at with every seed: none for full, its fixed rank, or every --ranks value. */
    private static int[] ranks(Options o, String method) {
        if (method.equals("full")) return new int[] {0};
        int fixed = o.methods().get(method);
        return fixed > 0 ? new int[] {fixed} : o.ranks();
    }

    private static String key(String method, int rank, float lr, int seed) {
        return String.format(Locale.ROOT, "%s-r%d-lr%.0e-seed%d", method, rank, lr, seed);
    }

    /** The training and dev files, the number of training examples and the test records, read once. */
    record Split(Path train, Path dev, int trainExamples, List<LabeledText> test) {}

    private static JsonNode run(Options o, String method, int rank, float lr, int seed, Split split, Path results,
            Map<String, JsonNode> done) throws IOException {
        String key = key(method, rank, lr, seed);
        if (done.containsKey(key)) return done.get(key);
        Path dir = o.out().resolve("runs").resolve(key);
        if (Files.exists(dir)) deleteTree(dir);
        long steps = o.epochs() * (((long) split.trainExamples() + o.batch() - 1) / o.batch());
        int warmup = (int) Math.ceil(0.06 * steps);
        int r = Math.max(rank, 1);
        TrainConfig config = new TrainConfig(o.model().toString(), null, split.train().toString(), split.dev().toString(),
                method, r, 2f * r, o.dropout(), List.of("query", "key", "value", "dense"), false, lr, "adamw", 0.01f, o.epochs(), 0, o.batch(),
                o.batch(), o.seqLen(), warmup, "linear", 1.0f, 1000 + seed, true, false, null, 0, 0, 0, 1f, false, false,
                TrainConfig.CLASSIFY, null, o.dataset().equals("trec"), o.dtype(), o.quantize(), o.doubleQuant());
        System.gc();
        LiveHeap.reset();
        TrainingRun run = TrainingRun.start(config, dir, null);
        double[] tokens = {0, 0};
        Score[] last = {null};
        long start = System.nanoTime();
        run.run(new Trainer.Listener() {
            @Override
            public void onStep(Trainer.StepMetrics m) {
                tokens[0] += m.tokens();
                tokens[1] += m.seconds();
            }

            @Override
            public void onEval(long step, Score s) {
                last[0] = s;
            }
        }, Long.MAX_VALUE);
        double seconds = (System.nanoTime() - start) / 1e9;
        double peakLiveHeap = LiveHeap.peakMb();
        var cls = run.classifier();
        ClassificationMetrics devScore = (ClassificationMetrics) last[0];
        var prepared = ClassificationData.prepare(split.test(), run.tokenizer(), run.seqLen(), cls.model().labels());
        ClassificationMetrics testScore = ClassificationEvaluator.evaluate(cls.model(), prepared.examples(), 64);
        ObjectNode line = JSON.createObjectNode();
        line.put("key", key);
        line.put("method", method);
        line.put("rank", rank);
        line.put("lr", lr);
        line.put("seed", seed);
        line.put("dev_accuracy", devScore.accuracy());
        line.put("dev_macro_f1", devScore.macroF1());
        line.put("test_accuracy", testScore.accuracy());
        line.put("test_macro_f1", testScore.macroF1());
        line.put("test_examples", testScore.examples());
        line.put("trainable_params", run.trainableParameters());
        line.put("total_params", run.totalParameters());
        line.put("train_tokens_per_s", tokens[0] / tokens[1]);
        line.put("run_s", seconds);
        if (Double.isFinite(peakLiveHeap)) line.put("peak_live_heap_mb", peakLiveHeap);
        Files.writeString(results, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        System.err.println(line);
        done.put(key, line);
        deleteTree(dir.resolve("checkpoints"));
        return line;
    }

    private static Map<String, JsonNode> readResults(Path file) throws IOException {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        if (!Files.exists(file)) return m;
        for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (l.isBlank()) continue;
            JsonNode n = JSON.readTree(l);
            m.put(n.get("key").asText(), n);
        }
        return m;
    }

    static String table(Options o, Map<String, Float> chosen, Map<String, JsonNode> results) {
        StringBuilder sb = new StringBuilder();
        String base = o.quantize() != null ? o.quantize() + (o.doubleQuant() ? " (double quant)" : "")
                : o.dtype() != null ? o.dtype() : "f32";
        sb.append(String.format(Locale.ROOT, "%s, frozen linears %s, %d epoch(s), batch %d, %d seeds; learning rate chosen on dev (at rank 8, or at a method's fixed rank): %s%n%n",
                o.dataset(), base, o.epochs(), o.batch(), o.seeds(), chosen));
        sb.append("| method | r | lr | test accuracy | test macro-F1 | dev accuracy | trainable params | train tokens/s | peak live heap MB |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|\n");
        for (var e : chosen.entrySet()) {
            String method = e.getKey();
            int[] ranks = ranks(o, method);
            for (int rank : ranks) {
                List<JsonNode> rows = new ArrayList<>();
                for (int seed = 0; seed < o.seeds(); seed++) {
                    JsonNode n = results.get(key(method, rank, e.getValue(), seed));
                    if (n != null) rows.add(n);
                }
                if (rows.isEmpty()) continue;
                sb.append(String.format(Locale.ROOT, "| %s | %s | %.0e | %s | %s | %s | %,d | %.0f | %.0f |%n", method,
                        rank == 0 ? "-" : Integer.toString(rank), e.getValue(), meanStd(rows, "test_accuracy", 100),
                        meanStd(rows, "test_macro_f1", 100), meanStd(rows, "dev_accuracy", 100),
                        rows.getFirst().get("trainable_params").asLong(), mean(rows, "train_tokens_per_s"),
                        rows.getFirst().has("peak_live_heap_mb") ? mean(rows, "peak_live_heap_mb") : Double.NaN));
            }
        }
        return sb.toString();
    }

    private static double mean(List<JsonNode> rows, String field) {
        double s = 0;
        for (JsonNode n : rows) s += n.get(field).asDouble();
        return s / rows.size();
    }

    private static String meanStd(List<JsonNode> rows, String field, double scale) {
        double m = mean(rows, field) * scale, ss = 0;
        for (JsonNode n : rows) ss += Math.pow(n.get(field).asDouble() * scale - m, 2);
        double sd = rows.size() > 1 ? Math.sqrt(ss / (rows.size() - 1)) : 0;
        return String.format(Locale.ROOT, "%.2f ± %.2f (n=%d)", m, sd, rows.size());
    }

    /** train, dev and test files; TREC's dev set is 500 questions held out of TREC.train with a fixed seed. */
    private static Path[] split(Options o) throws IOException {
        if (o.dataset().equals("sst2")) {
            return new Path[] {o.data().resolve("sst2-sentence/stsa.binary.train"), o.data().resolve("sst2-sentence/stsa.binary.dev"),
                o.data().resolve("sst2-sentence/stsa.binary.test")};
        }
        List<LabeledText> all = ClassificationReader.read(o.data().resolve("trec/TREC.train"), false);
        List<LabeledText> shuffled = new ArrayList<>(all);
        Collections.shuffle(shuffled, new Random(1234));
        Path dir = o.out().resolve("data");
        Files.createDirectories(dir);
        Path train = dir.resolve("trec-train.jsonl"), dev = dir.resolve("trec-dev.jsonl");
        writeJsonl(train, shuffled.subList(500, shuffled.size()));
        writeJsonl(dev, shuffled.subList(0, 500));
        return new Path[] {train, dev, o.data().resolve("trec/TREC.test")};
    }

    private static void writeJsonl(Path file, List<LabeledText> rows) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (LabeledText t : rows) {
            ObjectNode n = JSON.createObjectNode();
            n.put("text", t.text());
            n.put("label", t.label());
            sb.append(n).append('\n');
        }
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Collections.reverseOrder()).toList()) Files.delete(p);
        }
    }

    private static Options parse(String[] args) {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--no-full") || args[i].equals("--double-quant")) {
                a.put(args[i].substring(2), "true");
                continue;
            }
            if (!args[i].startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("bad argument " + args[i]);
            a.put(args[i].substring(2), args[++i]);
        }
        if (!a.containsKey("model") || !a.containsKey("dataset") || !a.containsKey("out")) {
            throw new IllegalArgumentException("usage: --model DIR --dataset sst2|trec --out DIR [--data ../shared/data/classification]"
                    + " [--ranks 4,8,16] [--seeds 3] [--adapter-lrs 5e-4,1e-3,2e-3] [--full-lrs 2e-5,5e-5,1e-4] [--epochs N]"
                    + " [--batch 32] [--seq-len 128] [--dropout 0.1] [--threads N] [--no-full]"
                    + " [--methods lora,dora | lora:8,dora:8,vera:256,dvora:256] [--dtype f32|bf16|f16]"
                    + " [--quantize nf4|fp4|int8] [--double-quant]");
        }
        String dataset = a.get("dataset");
        if (!dataset.equals("sst2") && !dataset.equals("trec")) throw new IllegalArgumentException("--dataset must be sst2 or trec");
        return new Options(Path.of(a.get("model")), dataset, Path.of(a.getOrDefault("data", "../shared/data/classification")),
                Path.of(a.get("out")), ints(a.getOrDefault("ranks", "4,8,16")), Integer.parseInt(a.getOrDefault("seeds", "3")),
                floats(a.getOrDefault("adapter-lrs", "5e-4,1e-3,2e-3")), floats(a.getOrDefault("full-lrs", "2e-5,5e-5,1e-4")),
                Integer.parseInt(a.getOrDefault("epochs", dataset.equals("sst2") ? "1" : "3")),
                Integer.parseInt(a.getOrDefault("batch", "32")), Integer.parseInt(a.getOrDefault("seq-len", "128")),
                Float.parseFloat(a.getOrDefault("dropout", "0.1")),
                Integer.parseInt(a.getOrDefault("threads", Integer.toString(Runtime.getRuntime().availableProcessors()))),
                !a.containsKey("no-full"), methods(a.getOrDefault("methods", "lora,dora")), a.get("dtype"), a.get("quantize"),
                a.containsKey("double-quant"));
    }

    /** method[:rank],... in order; a rank of 0 (none given) searches at rank 8 and runs every --ranks value. */
    private static Map<String, Integer> methods(String s) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (String part : s.split(",")) {
            String[] mr = part.split(":");
            if (!PeftMethods.isMethod(mr[0])) throw new IllegalArgumentException("--methods: no adapter method '" + mr[0] + "'");
            out.put(mr[0], mr.length > 1 ? Integer.parseInt(mr[1]) : 0);
        }
        return out;
    }

    private static int[] ints(String s) {
        return java.util.Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    private static float[] floats(String s) {
        String[] p = s.split(",");
        float[] f = new float[p.length];
        for (int i = 0; i < p.length; i++) f[i] = Float.parseFloat(p[i]);
        return f;
    }
}
