package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.data.ClassificationData;
import dev.dora4j.data.ClassificationReader;
import dev.dora4j.data.DatasetReader;
import dev.dora4j.eval.ClassificationEvaluator;
import dev.dora4j.eval.ClassificationMetrics;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.data.Example;
import dev.dora4j.data.Examples;
import dev.dora4j.eval.Evaluator;
import dev.dora4j.model.CausalLM;
import dev.dora4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Mean cross-entropy over the target tokens of a data file, and perplexity;",
            "with --task classify, a BERT classifier's accuracy and macro-F1 over text/label records."})
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA/DoRA adapter, applied unmerged.")
    Path adapter;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSON or JSONL records.")
    Path data;

    @Option(names = "--seq-len", paramLabel = "N", description = "Truncate sequences to N tokens (default: the model's context).")
    Integer seqLen;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", description = "Sequences scored together (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--task", defaultValue = "causal-lm", description = "causal-lm or classify (default: ${DEFAULT-VALUE}).")
    String task;

    @Option(names = "--pooling", description = "classify: mean or cls (default: as the classifier was trained).")
    String pooling;

    @Option(names = "--coarse-labels", description = "classify: read a label A:b as A (TREC's coarse classes).")
    boolean coarseLabels;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "classify: predict the labels of --data's texts on Spark (local[N], spark://HOST:PORT, ...) into --out.")
    String spark;

    @Option(names = "--out", paramLabel = "DIR",
            description = "--spark: new directory for part-NNNNN.jsonl files of {\"index\", \"label\"} lines.")
    Path out;

    @Option(names = "--partitions", defaultValue = "0", paramLabel = "N", description = "--spark: input partitions (default: Spark's parallelism).")
    int partitions;

    @Override
    public Integer call() throws Exception {
        if (spark != null && !task.equals("classify")) throw new DoraException("--spark needs --task classify");
        if (task.equals("classify")) return spark != null ? classifyOnSpark() : classify();
        if (!task.equals("causal-lm")) throw new DoraException("--task must be causal-lm or classify, got " + task);
        long start = System.nanoTime();
        CausalLM model = modelOptions.loadModel();
        if (adapter != null) ModelOptions.attachAdapter(model, adapter);
        List<Example> examples;
        try (Tokenizer tok = modelOptions.loadTokenizer()) {
            int context = model.contextLength();
            int len = Math.min(seqLen != null ? seqLen : context, context);
            Examples.Prepared prepared = Examples.prepare(DatasetReader.read(data), tok, len, false);
            TruncationNote.print(data, prepared, len, seqLen == null || seqLen > context);
            examples = prepared.examples();
        }
        Evaluator.Result r = Evaluator.evaluate(model, examples, batch);
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("loss", r.loss());
            o.put("perplexity", r.perplexity());
            o.put("tokens", r.tokens());
            System.out.println(o);
        } else {
            System.out.printf("loss %.6f  perplexity %.4f  tokens %d%n", r.loss(), r.perplexity(), r.tokens());
        }
        System.err.printf("scored %d examples in %.2f s%n", examples.size(), seconds);
        return 0;
    }

    private int classifyOnSpark() {
        long start = System.nanoTime();
        if (modelOptions.model == null || out == null) throw new DoraException("--spark needs --model DIR, --data FILE and --out DIR");
        long records = SparkBackend.load().classify(spark, modelOptions.model, modelOptions.tokenizer, adapter, modelOptions.storage.storage(), pooling, Math.max(1, batch),
                data, out, partitions, Main.debug);
        System.err.printf(Locale.ROOT, "classified %d record(s) on Spark in %.1f s; wrote %s%n", records, (System.nanoTime() - start) / 1e9,
                out);
        System.out.println(out);
        return 0;
    }

    private int classify() {
        long start = System.nanoTime();
        if (modelOptions.model == null) throw new DoraException("--task classify needs --model (a BERT model directory)");
        if (pooling != null && !pooling.equals("mean") && !pooling.equals("cls")) {
            throw new DoraException("--pooling must be mean or cls, got " + pooling);
        }
        modelOptions.applyThreads();
        BertClassifier model = BertClassifier.load(modelOptions.model, adapter, pooling, modelOptions.storage.storage());
        ClassificationData.Prepared prepared;
        try (Tokenizer tok = modelOptions.loadTokenizer()) {
            int context = model.bert().config().maxPositionEmbeddings();
            int len = Math.min(seqLen != null ? seqLen : context, context);
            prepared = ClassificationData.prepare(ClassificationReader.read(data, coarseLabels), tok, len, model.labels());
            if (prepared.truncated() > 0) {
                System.err.printf("%s: %d of %d texts were cut to %d tokens%n", data, prepared.truncated(), prepared.records(), len);
            }
        }
        ClassificationMetrics r = ClassificationEvaluator.evaluate(model, prepared.examples(), Math.max(1, batch));
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("accuracy", r.accuracy());
            o.put("macro_f1", r.macroF1());
            o.put("examples", r.examples());
            o.put("loss", r.loss());
            System.out.println(o);
        } else {
            System.out.printf("accuracy %.4f  macro-F1 %.4f  loss %.6f  examples %d%n", r.accuracy(), r.macroF1(), r.loss(),
                    r.examples());
        }
        System.err.printf("scored %d examples in %.2f s%n", r.examples(), seconds);
        return 0;
    }
}
