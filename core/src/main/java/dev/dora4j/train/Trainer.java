package dev.dora4j.train;

import dev.dora4j.DoraException;
import dev.dora4j.data.Example;
import dev.dora4j.eval.Score;
import dev.dora4j.model.CausalLM;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop over an {@link Objective}. Each optimizer step reads one batch of examples (see
 * {@link BatchPlan}), splits it into micro-batches, and accumulates gradients of the summed losses
 * divided by the number of targets (tokens, or sequences) of the whole batch, so accumulation gives the gradient of one pass
 * over the batch. Then: a finite check of loss and gradients, clipping by global norm, one
 * optimizer update with the scheduled learning rate, metrics, and, when due, a held-out
 * evaluation and a checkpoint.
 */
public final class Trainer {
    /** Receives what happens during training. */
    public interface Listener {
        void onStep(StepMetrics metrics);

        default void onEval(long step, Score result) {}

        default void onCheckpoint(long step, Path dir) {}
    }

    /** One optimizer step's figures; {@code step} is 1-based. */
    public record StepMetrics(long step, long totalSteps, int epoch, double loss, float lr, double gradNorm,
            long tokens, double tokensPerSecond, double seconds) {}

    private final TrainConfig config;
    private final Objective objective;
    private final Optimizer optimizer;
    private final BatchPlan plan;
    private final LrSchedule schedule;
    private final long totalSteps;
    private final TrainCheckpoints checkpoints;
    private final TrainCheckpoints.TensorWriter tensorWriter;
    private long step;
    private Path lastCheckpoint;
    private DataParallel parallel = DataParallel.SINGLE;

    public Trainer(TrainConfig config, CausalLM model, List<Example> train, List<Example> eval, Optimizer optimizer,
            TrainCheckpoints checkpoints, TrainCheckpoints.TensorWriter tensorWriter) {
        this(config, new LanguageModelObjective(model, train, eval), optimizer, checkpoints, tensorWriter);
    }

    public Trainer(TrainConfig config, Objective objective, Optimizer optimizer, TrainCheckpoints checkpoints,
            TrainCheckpoints.TensorWriter tensorWriter) {
        this.config = config;
        this.objective = objective;
        this.optimizer = optimizer;
        this.plan = new BatchPlan(objective.size(), config.batch(), config.shuffle(), config.seed());
        this.totalSteps = config.steps() > 0 ? config.steps() : (long) config.epochs() * plan.batchesPerEpoch();
        this.schedule = new LrSchedule(config.schedule(), config.lr(), config.warmupSteps(), (int) totalSteps);
        this.checkpoints = checkpoints;
        this.tensorWriter = tensorWriter;
    }

    /**
     * Makes this trainer one rank of a data-parallel gang: each step it reads its shard of the global batch
     * ({@code --batch}), in micro-batches of {@code --micro-batch}, and sums gradients, loss and tokens with the other
     * ranks through the gang's reducer before clipping and the optimizer step. Dropout streams are then positioned
     * per (step, rank) by {@link DataParallel#dropoutPosition}.
     */
    public void dataParallel(DataParallel parallel) {
        this.parallel = parallel;
    }

    public long totalSteps() {
        return totalSteps;
    }

    public long step() {
        return step;
    }

    public Path lastCheckpoint() {
        return lastCheckpoint;
    }

    /** Continues from a checkpoint's state: its step count and dropout streams (tensors and optimizer loaded by the caller). */
    public void restore(TrainCheckpoints.State state, Path checkpoint) {
        this.step = state.step();
        this.lastCheckpoint = checkpoint;
        Map<String, Dropout> dropouts = dropouts();
        state.dropoutPositions().forEach((path, pos) -> {
            Dropout d = dropouts.get(path);
            if (d != null) d.rewind(pos);
        });
    }

    /** Trains until the last step, or throws after {@code stopAfter} steps in this call (for tests of interrupted runs). */
    public void run(Listener listener, long stopAfter) {
        long started = 0;
        while (step < totalSteps) {
            if (started++ >= stopAfter) return;
            StepMetrics m = oneStep();
            try {
                listener.onStep(m);
                boolean last = step == totalSteps;
                if (last || config.evalEvery() > 0 && step % config.evalEvery() == 0) {
                    Score score = evaluate();
                    if (score != null) listener.onEval(step, score);
                }
                if (checkpoints != null && config.saveEvery() > 0 && step % config.saveEvery() == 0) {
                    lastCheckpoint = checkpoints.save(step, tensorWriter, optimizer, dropoutPositions(), config.keepCheckpoints());
                    listener.onCheckpoint(step, lastCheckpoint);
                }
            } catch (DoraException e) {
                throw new DoraException(e.getMessage() + "; training stopped after step " + step + lastGood(), e);
            }
        }
    }

    public void run(Listener listener) {
        run(listener, Long.MAX_VALUE);
    }

    /** The held-out score with dropout off, or null without held-out data. */
    public Score evaluate() {
        Map<String, Dropout> dropouts = dropouts();
        dropouts.values().forEach(d -> d.training(false));
        try {
            return objective.evaluate(Math.max(1, config.microBatch()));
        } finally {
            dropouts.values().forEach(d -> d.training(true));
        }
    }

    private StepMetrics oneStep() {
        long start = System.nanoTime();
        int[] global = plan.batch(step);
        int totalTargets = 0;
        for (int i : global) totalTargets += objective.targets(i);
        int[] indices = parallel.shard(global);
        long tokens = 0;
        for (int i : indices) tokens += objective.tokens(i);
        for (Parameter p : optimizer.parameters()) p.tensor().zeroGrad();
        if (!parallel.isSingle()) {
            long position = parallel.dropoutPosition(step);
            dropouts().values().forEach(d -> d.rewind(position));
        }
        double loss = 0;
        if (totalTargets > 0) {
            for (int s = 0; s < indices.length; s += config.microBatch()) {
                int[] micro = Arrays.copyOfRange(indices, s, Math.min(indices.length, s + config.microBatch()));
                loss += objective.forwardBackward(micro, totalTargets);
            }
        }
        long stepNumber = step + 1;
        if (parallel.reducer() != null) {
            GradientReducer.Totals sum = parallel.reducer().allReduce(stepNumber, optimizer.parameters(),
                    new GradientReducer.Totals(loss, tokens));
            loss = sum.loss();
            tokens = sum.tokens();
        }
        if (!Double.isFinite(loss)) {
            throw new DoraException("step " + stepNumber + ": the loss is " + loss + "; training stopped" + lastGood());
        }
        double norm = globalNorm(stepNumber);
        if (config.maxGradNorm() > 0 && norm > config.maxGradNorm()) {
            float coef = (float) (config.maxGradNorm() / (norm + 1e-6));
            for (Parameter p : optimizer.parameters()) {
                float[] g = p.tensor().grad();
                for (int i = 0; i < g.length; i++) g[i] *= coef;
            }
        }
        float lr = schedule.at((int) step);
        optimizer.step(lr);
        step = stepNumber;
        double seconds = (System.nanoTime() - start) / 1e9;
        return new StepMetrics(step, totalSteps, plan.epochOf(step - 1), loss, lr, norm, tokens, tokens / seconds, seconds);
    }

    private double globalNorm(long stepNumber) {
        double sq = 0;
        for (Parameter p : optimizer.parameters()) {
            float[] g = p.tensor().grad();
            double s = 0;
            for (float v : g) s += (double) v * v;
            if (!Double.isFinite(s)) {
                throw new DoraException("step " + stepNumber + ": the gradient of '" + p.name() + "' is not finite; training stopped"
                        + lastGood());
            }
            sq += s;
        }
        return Math.sqrt(sq);
    }

    private String lastGood() {
        return lastCheckpoint == null ? " (no checkpoint was written yet)" : "; the last good checkpoint is " + lastCheckpoint;
    }

    private Map<String, Dropout> dropouts() {
        Map<String, Dropout> map = new LinkedHashMap<>();
        for (Map.Entry<String, Linear> e : objective.linears().entrySet()) {
            var a = e.getValue().adapter();
            if (a != null && a.dropout() != null) map.put(e.getKey(), a.dropout());
        }
        return map;
    }

    private Map<String, Long> dropoutPositions() {
        Map<String, Long> out = new LinkedHashMap<>();
        dropouts().forEach((k, d) -> out.put(k, d.position()));
        return out;
    }

    List<Parameter> parameters() {
        return new ArrayList<>(optimizer.parameters());
    }

    Optimizer parametersOptimizer() {
        return optimizer;
    }
}
