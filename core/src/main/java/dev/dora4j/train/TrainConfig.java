package dev.dora4j.train;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.peft.PeftMethods;
import java.util.List;

/**
 * Every setting of a training run, with the command line's names and defaults. Saved beside the
 * run's outputs so {@code --resume} continues with exactly the settings the run started with.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record TrainConfig(
        String model,
        String tokenizer,
        String data,
        String evalData,
        String method,
        int rank,
        float alpha,
        float dropout,
        List<String> targets,
        boolean rslora,
        float lr,
        String optimizer,
        float weightDecay,
        int epochs,
        int steps,
        int batch,
        int microBatch,
        int seqLen,
        int warmupSteps,
        String schedule,
        float maxGradNorm,
        long seed,
        boolean shuffle,
        boolean trainOnInputs,
        String initAdapter,
        int evalEvery,
        int saveEvery,
        int keepCheckpoints,
        float magnitudeLrRatio,
        boolean activationCheckpointing,
        boolean pack,
        String task,
        String pooling,
        boolean coarseLabels,
        String dtype,
        String quantize,
        boolean doubleQuant,
        AdapterOptions adapterOptions) {

    /** The method that trains every weight instead of an adapter. */
    public static final String FULL = "full";
    /** Causal language modelling (next-token loss on the response tokens). */
    public static final String CAUSAL_LM = "causal-lm";
    /** Sequence classification ({@code text}/{@code label} records, a classifier head on an encoder). */
    public static final String CLASSIFY = "classify";

    public TrainConfig {
        if (!method.equals(FULL) && !PeftMethods.isMethod(method)) {
            throw new IllegalArgumentException("--method must be " + PeftMethods.ids() + " or " + FULL + ", got " + method);
        }
        if (rank <= 0) throw new IllegalArgumentException("--rank must be positive, got " + rank);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("--dropout must be in [0, 1), got " + dropout);
        if (!(lr > 0)) throw new IllegalArgumentException("--lr must be positive, got " + lr);
        if (batch <= 0 || microBatch <= 0) throw new IllegalArgumentException("--batch and --micro-batch must be positive");
        if (microBatch > batch) microBatch = batch;
        if (seqLen < 2) throw new IllegalArgumentException("--seq-len must be at least 2, got " + seqLen);
        if (epochs <= 0 && steps <= 0) throw new IllegalArgumentException("give --epochs or --steps");
        if (warmupSteps < 0) throw new IllegalArgumentException("--warmup-steps must be >= 0");
        if (maxGradNorm < 0) throw new IllegalArgumentException("--max-grad-norm must be >= 0 (0 disables clipping)");
        if (keepCheckpoints < 0) throw new IllegalArgumentException("--keep-checkpoints must be >= 0");
        if (!(magnitudeLrRatio > 0)) throw new IllegalArgumentException("--magnitude-lr-ratio must be positive");
        new LrSchedule(schedule, lr, 0, 1);
        targets = targets == null ? List.of() : List.copyOf(targets);
        adapterOptions = adapterOptions == null ? AdapterOptions.DEFAULT : adapterOptions;
        task = task == null ? CAUSAL_LM : task;
        if (!task.equals(CAUSAL_LM) && !task.equals(CLASSIFY)) {
            throw new IllegalArgumentException("--task must be causal-lm or classify, got " + task);
        }
        if (pooling != null && !pooling.equals("mean") && !pooling.equals("cls")) {
            throw new IllegalArgumentException("--pooling must be mean or cls, got " + pooling);
        }
        LinearStorage.parse(dtype, quantize, doubleQuant);
        if (quantize != null && method.equals("full")) {
            throw new IllegalArgumentException("--quantize keeps the frozen base weights quantised under a LoRA/DoRA adapter;"
                    + " --method full trains every weight in float32");
        }
    }

    /** A causal language-model run (the settings before {@code task} existed). */
    public TrainConfig(String model, String tokenizer, String data, String evalData, String method, int rank, float alpha,
            float dropout, List<String> targets, boolean rslora, float lr, String optimizer, float weightDecay, int epochs,
            int steps, int batch, int microBatch, int seqLen, int warmupSteps, String schedule, float maxGradNorm, long seed,
            boolean shuffle, boolean trainOnInputs, String initAdapter, int evalEvery, int saveEvery, int keepCheckpoints,
            float magnitudeLrRatio, boolean activationCheckpointing, boolean pack) {
        this(model, tokenizer, data, evalData, method, rank, alpha, dropout, targets, rslora, lr, optimizer, weightDecay, epochs,
                steps, batch, microBatch, seqLen, warmupSteps, schedule, maxGradNorm, seed, shuffle, trainOnInputs, initAdapter,
                evalEvery, saveEvery, keepCheckpoints, magnitudeLrRatio, activationCheckpointing, pack, CAUSAL_LM, null, false,
                null, null, false, null);
    }

    /** A run with the default {@link AdapterOptions} (the settings before they existed). */
    public TrainConfig(String model, String tokenizer, String data, String evalData, String method, int rank, float alpha,
            float dropout, List<String> targets, boolean rslora, float lr, String optimizer, float weightDecay, int epochs,
            int steps, int batch, int microBatch, int seqLen, int warmupSteps, String schedule, float maxGradNorm, long seed,
            boolean shuffle, boolean trainOnInputs, String initAdapter, int evalEvery, int saveEvery, int keepCheckpoints,
            float magnitudeLrRatio, boolean activationCheckpointing, boolean pack, String task, String pooling,
            boolean coarseLabels, String dtype, String quantize, boolean doubleQuant) {
        this(model, tokenizer, data, evalData, method, rank, alpha, dropout, targets, rslora, lr, optimizer, weightDecay, epochs,
                steps, batch, microBatch, seqLen, warmupSteps, schedule, maxGradNorm, seed, shuffle, trainOnInputs, initAdapter,
                evalEvery, saveEvery, keepCheckpoints, magnitudeLrRatio, activationCheckpointing, pack, task, pooling, coarseLabels,
                dtype, quantize, doubleQuant, null);
    }

    public boolean isClassification() {
        return task.equals(CLASSIFY);
    }

    public boolean isAdapter() {
        return !method.equals(FULL);
    }

    /** How the model's block linear weights are kept: --dtype, --quantize and --double-quant. */
    public LinearStorage linearStorage() {
        return LinearStorage.parse(dtype, quantize, doubleQuant);
    }
}
