package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.data.BundledData;
import dev.dora4j.eval.Evaluator;
import dev.dora4j.generate.Generator;
import dev.dora4j.generate.Sampler;
import dev.dora4j.model.BundledModel;
import dev.dora4j.train.AdapterOptions;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.Trainer;
import dev.dora4j.train.TrainingRun;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tune a model with DoRA, LoRA or fully, writing a PEFT adapter (or a full model directory).",
            "With no --model and no --data: a DoRA fine-tune of the bundled stories260K on the bundled stories about Pip the",
            "lighthouse robot, showing held-out loss and a sample before and after."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", description = "Hugging Face model directory or llama2.c .bin (default: bundled stories260K).")
    Path model;
    @Option(names = "--tokenizer", paramLabel = "FILE", description = "Tokenizer file (default: found beside the model).")
    Path tokenizer;
    @Option(names = "--data", paramLabel = "FILE", description = "Training records, JSON or JSONL.")
    Path data;
    @Option(names = "--out", paramLabel = "DIR", description = "Output directory: adapter, metrics.jsonl, checkpoints/.")
    Path out;
    @Option(names = "--method", defaultValue = "dora", description = "dora, lora, vera, dvora or full (default: ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--rank", defaultValue = "16", description = "Default: ${DEFAULT-VALUE}.")
    int rank;
    @Option(names = "--alpha", defaultValue = "32", description = "Default: ${DEFAULT-VALUE}.")
    float alpha;
    @Option(names = "--dropout", defaultValue = "0.05", description = "Adapter input dropout (default: ${DEFAULT-VALUE}).")
    float dropout;
    @Option(names = "--targets", split = ",",
            description = "Target modules (default: q_proj,k_proj,v_proj,up_proj,down_proj; with --task classify: "
                    + "query,key,value,dense); embed_tokens adds LoRA/DoRA on the token embedding.")
    List<String> targets;
    @Option(names = "--rslora", description = "Scale by alpha/sqrt(r) instead of alpha/r.")
    boolean rslora;
    @Option(names = "--lr", defaultValue = "2e-4", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    float lr;
    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default: ${DEFAULT-VALUE}).")
    String optimizer;
    @Option(names = "--weight-decay", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    float weightDecay;
    @Option(names = "--epochs", defaultValue = "3", description = "Default: ${DEFAULT-VALUE}.")
    int epochs;
    @Option(names = "--steps", defaultValue = "0", description = "Optimizer steps; overrides --epochs.")
    int steps;
    @Option(names = "--batch", defaultValue = "16", description = "Sequences per optimizer step (with --spark: over all workers; default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--micro-batch", defaultValue = "4", description = "Sequences per forward pass (per worker with --spark; default: ${DEFAULT-VALUE}).")
    int microBatch;
    @Option(names = "--seq-len", defaultValue = "256", description = "Default: ${DEFAULT-VALUE}.")
    int seqLen;
    @Option(names = "--warmup-steps", defaultValue = "100", description = "Default: ${DEFAULT-VALUE}.")
    int warmupSteps;
    @Option(names = "--schedule", defaultValue = "linear", description = "linear, cosine or constant (default: ${DEFAULT-VALUE}).")
    String schedule;
    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "0 disables clipping (default: ${DEFAULT-VALUE}).")
    float maxGradNorm;
    @Option(names = "--seed", defaultValue = "42", description = "Default: ${DEFAULT-VALUE}.")
    long seed;
    @Option(names = "--no-shuffle", description = "Keep file order.")
    boolean noShuffle;
    @Option(names = "--train-on-inputs", description = "Also train on prompt tokens.")
    boolean trainOnInputs;
    @Option(names = "--init-adapter", paramLabel = "DIR", description = "Start from this PEFT adapter as it is (its r, alpha, targets).")
    Path initAdapter;
    @Option(names = "--eval-data", paramLabel = "FILE", description = "Held-out records scored every --eval-every steps and at the end.")
    Path evalData;
    @Option(names = "--eval-every", defaultValue = "0", description = "Default: only at the end.")
    int evalEvery;
    @Option(names = "--save-every", defaultValue = "0", description = "Checkpoint every N steps (default: never).")
    int saveEvery;
    @Option(names = "--keep-checkpoints", defaultValue = "0", description = "Keep the last K checkpoints (default: all).")
    int keepCheckpoints;
    @Option(names = "--resume", paramLabel = "DIR", description = "Continue the run whose --out is DIR from its newest checkpoint.")
    Path resume;
    @Option(names = "--magnitude-lr-ratio", defaultValue = "1", description = "DoRA magnitude lr = lr × ratio (default: ${DEFAULT-VALUE}).")
    float magnitudeLrRatio;
    @Option(names = "--activation-checkpointing", description = "Recompute each layer in backward instead of keeping activations.")
    boolean activationCheckpointing;
    @Option(names = "--loraplus-lr-ratio", defaultValue = "1",
            description = "LoRA+: B matrices and trained vectors (magnitude, VeRA's λ) learn at lr × ratio (default: ${DEFAULT-VALUE}, off).")
    float loraplusLrRatio;
    @Option(names = "--vera-d-initial", defaultValue = "0.1", description = "vera/dvora: initial λ_d, PEFT's d_initial (default: ${DEFAULT-VALUE}).")
    float veraDInitial;
    @Option(names = "--projection-prng-key", defaultValue = "0",
            description = "vera/dvora: seed of the shared projections, saved with the adapter (default: ${DEFAULT-VALUE}).")
    long projectionPrngKey;
    @Option(names = "--pack", description = "Concatenate the text records and cut them into --seq-len sequences.")
    boolean pack;
    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;
    @Option(names = "--task", defaultValue = "causal-lm", description = "causal-lm or classify (a BERT encoder with a "
            + "classifier head on text/label records; default: ${DEFAULT-VALUE}).")
    String task;
    @Mixin
    StorageOptions storage;

    @Option(names = "--pooling", description = "classify: mean or cls (default: cls when the model has a pooler, else mean).")
    String pooling;
    @Option(names = "--coarse-labels", description = "classify: read a label A:b as A (TREC's coarse classes).")
    boolean coarseLabels;

    @Option(names = "--spark", paramLabel = "MASTER", description = "Train data-parallel on Spark: local[N], spark://HOST:PORT, yarn, k8s://... "
            + "(model, data and --out must be the same paths on every worker).")
    String spark;
    @Option(names = "--workers", defaultValue = "2", paramLabel = "N", description = "--spark: ranks, one barrier task each (default: ${DEFAULT-VALUE}).")
    int workers;
    @Option(names = "--peer-timeout", defaultValue = "300", paramLabel = "SECONDS",
            description = "--spark: a rank fails when a peer is silent this long (default: ${DEFAULT-VALUE}).")
    int peerTimeout;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (threads != null) dev.dora4j.kernel.Parallel.setThreads(threads);
        dev.dora4j.train.LiveHeap.reset();
        if (TrainConfig.CLASSIFY.equals(task) && model == null && resume == null) {
            throw new DoraException("--task classify needs --model (a BERT model directory)");
        }
        boolean demo = model == null && data == null && resume == null;
        if (spark != null) return onSpark(demo);
        TrainingRun run;
        if (resume != null) {
            run = TrainingRun.resume(resume, BundledModel.checkpoint());
            System.err.printf("resuming %s at step %d of %d%n", resume, run.trainer().step(), run.trainer().totalSteps());
        } else {
            if (demo) applyDemoDefaults();
            if (data == null) throw new DoraException("--data is required when --model is given");
            if (out == null) throw new DoraException("--out is required");
            run = TrainingRun.start(config(), out, BundledModel.checkpoint());
        }
        var cls = run.classifier();
        int examples = cls != null ? cls.trainData().examples().size() : run.trainExamples().size();
        System.err.printf("%s: %,d of %,d parameters trainable (%.3f %%), %d training examples, %d steps%n",
                run.config().method(), run.trainableParameters(), run.totalParameters(),
                100.0 * run.trainableParameters() / run.totalParameters(), examples, run.trainer().totalSteps());
        if (cls != null) {
            System.err.printf("classify: %d labels %s, %s pooling%n", cls.model().labels().size(), cls.model().labels(),
                    cls.model().pooling());
            truncated(run.config().data(), cls.trainData(), run.seqLen());
            if (cls.evalData() != null) truncated(run.config().evalData(), cls.evalData(), run.seqLen());
        } else {
            boolean context = run.seqLen() < run.config().seqLen();
            TruncationNote.print(run.config().data(), run.trainData(), run.seqLen(), context);
            if (run.evalData() != null) TruncationNote.print(run.config().evalData(), run.evalData(), run.seqLen(), context);
        }
        Evaluator.Result before = null;
        String sampleBefore = null;
        if (demo) {
            before = (Evaluator.Result) run.trainer().evaluate();
            sampleBefore = sample(run);
        }
        long start = System.nanoTime();
        Evaluator.Result after;
        try (TrainProgress progress = new TrainProgress(run.trainer().totalSteps(), run.trainer().step())) {
            run.run(progress, Long.MAX_VALUE);
            after = progress.lastEval instanceof Evaluator.Result r ? r : null;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Path outDir = resume != null ? resume : out;
        System.err.printf("finished in %.1f s, peak RSS %.0f MB, peak live heap %.0f MB; wrote %s%n", seconds,
                Resources.peakRssMb(), dev.dora4j.train.LiveHeap.peakMb(), outDir);
        if (demo) {
            if (after == null) after = (Evaluator.Result) run.trainer().evaluate();
            System.out.printf("held-out loss: %.4f before, %.4f after (perplexity %.2f -> %.2f, %d tokens)%n",
                    before.loss(), after.loss(), before.perplexity(), after.perplexity(), after.tokens());
            System.out.println("sample before: " + sampleBefore);
            System.out.println("sample after:  " + sample(run));
        }
        System.out.println(outDir);
        return 0;
    }

    /** {@code --spark}: the same run spread over Spark workers; progress from rank 0's metrics, the output directory on stdout. */
    private int onSpark(boolean demo) {
        if (demo) applyDemoDefaults();
        if (resume == null && data == null) throw new DoraException("--data is required when --model is given");
        if (resume == null && out == null) throw new DoraException("--out is required");
        Path outDir = resume != null ? resume : out;
        long start = System.nanoTime();
        long steps = SparkBackend.load().train(spark, workers, resume != null ? null : config(), outDir, resume != null,
                threads == null ? 0 : threads, peerTimeout, Main.debug, System.err::println);
        System.err.printf("finished %d steps on %d workers in %.1f s; wrote %s%n", steps, workers, (System.nanoTime() - start) / 1e9, outDir);
        System.out.println(outDir);
        return 0;
    }

    /**
     * The bundled run: DoRA on stories260K over the Pip stories. A model this small (260K weights)
     * learns at a far larger rate than the defaults meant for real models, so unless given, the
     * learning rate is 1e-2 with 10 warmup steps over 4 epochs; every other setting keeps its default.
     */
    private void applyDemoDefaults() {
        var parsed = spec.commandLine().getParseResult();
        if (!parsed.hasMatchedOption("--lr")) lr = 1e-2f;
        if (!parsed.hasMatchedOption("--warmup-steps")) warmupSteps = 10;
        if (!parsed.hasMatchedOption("--epochs")) epochs = 4;
        // stories260K's whole context: the bundled stories then fit without truncation
        if (!parsed.hasMatchedOption("--seq-len")) seqLen = 512;
        data = BundledData.train();
        if (evalData == null) evalData = BundledData.eval();
        if (out == null) {
            out = Path.of("runs", "stories260K-" + method + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
    }

    private TrainConfig config() {
        return new TrainConfig(model == null ? null : model.toString(), tokenizer == null ? null : tokenizer.toString(),
                data.toAbsolutePath().toString(), evalData == null ? null : evalData.toAbsolutePath().toString(), method, rank, alpha,
                dropout, targetsOrDefault(), rslora, lr, optimizer, weightDecay, epochs, steps, batch, microBatch, seqLen, warmupSteps,
                schedule, maxGradNorm, seed, !noShuffle, trainOnInputs, initAdapter == null ? null : initAdapter.toString(),
                evalEvery, saveEvery, keepCheckpoints, magnitudeLrRatio, activationCheckpointing, pack, task, pooling,
                coarseLabels, storage.dtype, storage.quantize, storage.doubleQuant,
                new AdapterOptions(loraplusLrRatio, veraDInitial, projectionPrngKey));
    }

    /** The default targets: every linear layer of the attention and MLP blocks that PEFT users name. */
    private List<String> targetsOrDefault() {
        if (targets != null && !targets.isEmpty()) return targets;
        return task.equals(TrainConfig.CLASSIFY) ? List.of("query", "key", "value", "dense")
                : List.of("q_proj", "k_proj", "v_proj", "up_proj", "down_proj");
    }

    private static void truncated(String file, dev.dora4j.data.ClassificationData.Prepared p, int seqLen) {
        if (p.truncated() > 0) {
            System.err.printf("%s: %d of %d texts were cut to %d tokens%n", file, p.truncated(), p.records(), seqLen);
        }
    }

    private static String sample(TrainingRun run) {
        var tok = run.tokenizer();
        int[] prompt = tok.encode("Once upon a time", true, false);
        Generator gen = new Generator(run.model(), prompt.length + 48);
        int[] ids = gen.generate(prompt, 48, new Sampler(0, 1, 0), t -> t == tok.eosId(), null);
        return ("Once upon a time" + tok.decode(ids)).replace('\n', ' ');
    }

    /** Progress: a bar on a terminal, plain log lines otherwise. */
    static final class TrainProgress implements Trainer.Listener, AutoCloseable {
        private final long total;
        private final me.tongfei.progressbar.ProgressBar bar;
        private final long logEvery;
        /** The held-out score of the last evaluation (the trainer scores the held-out set at its last step). */
        dev.dora4j.eval.Score lastEval;

        TrainProgress(long total, long done) {
            this.total = total;
            this.logEvery = Math.max(1, total / 20);
            this.bar = System.console() != null
                    ? new me.tongfei.progressbar.ProgressBarBuilder().setTaskName("train").setInitialMax(total)
                            .startsFrom(done, java.time.Duration.ZERO).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                            .build()
                    : null;
        }

        @Override
        public void onStep(Trainer.StepMetrics m) {
            if (bar != null) {
                bar.stepTo(m.step());
                bar.setExtraMessage(String.format("loss %.4f  %.0f tok/s", m.loss(), m.tokensPerSecond()));
            } else if (m.step() % logEvery == 0 || m.step() == total) {
                System.err.printf("step %d/%d  epoch %d  loss %.4f  lr %.3g  grad-norm %.3f  %.0f tok/s%n", m.step(), total,
                        m.epoch(), m.loss(), m.lr(), m.gradNorm(), m.tokensPerSecond());
            }
        }

        @Override
        public void onEval(long step, dev.dora4j.eval.Score score) {
            lastEval = score;
            String line = switch (score) {
                case Evaluator.Result r -> String.format("step %d  held-out loss %.4f  perplexity %.3f", step, r.loss(),
                        r.perplexity());
                case dev.dora4j.eval.ClassificationMetrics c -> String.format(
                        "step %d  held-out loss %.4f  accuracy %.4f  macro-F1 %.4f (%d examples)", step, c.loss(),
                        c.accuracy(), c.macroF1(), c.examples());
            };
            if (bar != null) bar.setExtraMessage(line);
            else System.err.println(line);
        }

        @Override
        public void onCheckpoint(long step, Path dir) {
            if (bar == null) System.err.println("checkpoint " + dir);
        }

        @Override
        public void close() {
            if (bar != null) bar.close();
        }
    }
}
