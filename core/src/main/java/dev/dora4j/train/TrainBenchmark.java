package dev.dora4j.train;

import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.model.ModelMemory;
import dev.dora4j.model.RandomModels;
import dev.dora4j.peft.ModuleAdapter;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.BufferPool;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Training speed on random tokens for a randomly initialised model: AdamW steps of DoRA, LoRA or
 * full fine-tuning, timed one by one after warm-up steps. FLOPs are counted as the PyTorch peer
 * ({@code shared/bench/peer-torch/torch_ref.py}) counts them, so GFLOP/s compare directly.
 */
public final class TrainBenchmark {
    /** The settings of one benchmark. */
    public record Settings(String method, int rank, float alpha, List<String> targets, int batch, int seqLen, int steps,
            int warmup, long seed, boolean activationCheckpointing, boolean profile, WeightStorage dtype,
            LinearStorage linears) {}

    /**
     * What one benchmark measured; times in seconds. {@code peakHeapMb} is the sum of the heap pools' peak use,
     * {@code peakLiveHeapMb} the largest heap in use right after a collection ({@link LiveHeap}). Bytes per trainable
     * parameter count its value, gradient and optimizer state; bytes per frozen parameter its stored value.
     * {@code stepJvm} holds, per timed step, the JIT compilation time and collection cycles within it.
     */
    public record Result(String method, double stepSecondsMedian, double[] stepSeconds, JvmActivity[] stepJvm,
            double tokensPerSecond, double trainFlops, double gflopsPerSecond, long trainableParams, long totalParams,
            double peakHeapMb, double peakLiveHeapMb, double bytesPerTrainableParam, double bytesPerFrozenParam,
            Map<String, double[]> profile) {}

    private TrainBenchmark() {}

    public static Result run(LlamaConfig config, Settings s) {
        HeapBudget.beforeTraining(ModelMemory.weightBytes(config, s.dtype(), s.linears()), s.activationCheckpointing());
        Stepper run = new Stepper(config, s);
        double[] times = new double[s.steps()];
        JvmActivity[] jvm = new JvmActivity[s.steps()];
        resetPeaks();
        LiveHeap.reset();
        for (int i = 0; i < s.warmup() + s.steps(); i++) {
            if (i == s.warmup() && s.profile()) {
                OpProfile.reset();
                OpProfile.enable(true);
            }
            boolean timed = i >= s.warmup();
            JvmActivity before = timed ? JvmActivity.now() : null;
            double dt = run.step(!timed);
            if (timed) {
                times[i - s.warmup()] = dt;
                jvm[i - s.warmup()] = JvmActivity.now().since(before);
            }
        }
        return run.result(times, jvm);
    }

    /**
     * Step times in seconds of several settings (of one config: typically the same model in several storages), one
     * model each, their steps taken in turn: warm-up steps, then {@code steps} rounds in which every model takes one
     * step in order and then one more in reverse order (A B C C B A), so that a machine whose speed drifts during the
     * run slows them alike: a drift that is linear over a round, or that changes at its middle, adds the same to each
     * model's pair of steps. Returns, per setting, per round, its two step times in the order taken. The first
     * setting's warm-up and step counts apply; with its {@code profile}, every op of the timed rounds is timed
     * ({@link OpProfile#snapshot()} afterwards, over {@code 2 · steps} steps of each model: an adapter's ops are named
     * after its method, the other ops add up over all models).
     */
    public static List<double[][]> alternating(LlamaConfig config, List<Settings> settings) {
        long bytes = 0;
        for (Settings s : settings) bytes += ModelMemory.weightBytes(config, s.dtype(), s.linears());
        HeapBudget.beforeTraining(bytes, settings.getFirst().activationCheckpointing());
        List<Stepper> runs = new ArrayList<>();
        for (Settings s : settings) runs.add(new Stepper(config, s));
        int warmup = settings.getFirst().warmup(), steps = settings.getFirst().steps(), n = runs.size();
        List<double[][]> times = new ArrayList<>();
        for (int k = 0; k < n; k++) times.add(new double[steps][2]);
        for (int i = 0; i < warmup; i++) {
            for (int k = 0; k < n; k++) {
                // the live set is measured again when every other model's pool holds its buffers
                if (i == 0 && k == n - 1 && n > 1) HeapBudget.measureAgain();
                runs.get(k).step(true);
            }
        }
        if (settings.getFirst().profile()) {
            OpProfile.reset();
            OpProfile.enable(true);
        }
        for (int i = 0; i < steps; i++) {
            for (int j = 0; j < 2 * n; j++) {
                int k = j < n ? j : 2 * n - 1 - j;
                times.get(k)[i][j < n ? 0 : 1] = runs.get(k).step(false);
            }
        }
        OpProfile.enable(false);
        return times;
    }

    /** One model with its trainable parameters and optimizer, stepped on random tokens. */
    private static final class Stepper {
        final LlamaConfig config;
        final Settings s;
        final LlamaModel model;
        final List<Parameter> params = new ArrayList<>();
        final Optimizer opt;
        final SplittableRandom rng;
        final int[] ids;
        final BufferPool buffers = new BufferPool();

        Stepper(LlamaConfig config, Settings s) {
            this.config = config;
            this.s = s;
            model = RandomModels.llama(config, s.seed(), s.dtype(), s.linears());
            model.activationCheckpointing(s.activationCheckpointing());
            if (s.method().equals(TrainConfig.FULL)) {
                model.trainAll(true);
                params.addAll(TrainingRun.fullParameters(model));
            } else {
                PeftConfig ac = PeftMethods.named(s.method()).newConfig(AdapterSettings.of(s.rank(), s.alpha(), 0f, s.targets(),
                        false, "CAUSAL_LM", "random"));
                Map<String, ModuleAdapter> adapters = AdapterInjector.inject(model.linears(), model.embeddings(), ac,
                        LlamaModel.OUTPUT_HEAD, s.seed());
                params.addAll(TrainingRun.adapterParameters(adapters, 1f));
            }
            opt = Optimizer.create("adamw", params, 0f);
            rng = new SplittableRandom(s.seed() + 1);
            ids = new int[s.batch() * s.seqLen()];
        }

        // one AdamW step on fresh random tokens; its time in seconds
        double step(boolean warmup) {
            for (int j = 0; j < ids.length; j++) ids[j] = rng.nextInt(config.vocabSize());
            int[] targets = CausalLM.shiftLabels(ids, s.batch(), s.seqLen());
            long t0 = System.nanoTime();
            for (Parameter p : params) p.tensor().zeroGrad();
            Tape tape = Tape.training(buffers);
            var loss = model.loss(tape, ids, targets, s.batch(), s.seqLen(), CausalLM.countTargets(targets));
            if (warmup) HeapBudget.atForwardEnd(ids.length);
            tape.backward(loss);
            buffers.endStep();
            long o0 = System.nanoTime();
            opt.step(1e-4f);
            if (OpProfile.enabled()) OpProfile.add("optimizer", System.nanoTime() - o0);
            return (System.nanoTime() - t0) / 1e9;
        }

        Result result(double[] times, JvmActivity[] jvm) {
            double[] sorted = times.clone();
            Arrays.sort(sorted);
            double median = sorted.length % 2 == 1 ? sorted[sorted.length / 2]
                    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
            long trainable = 0, trainableBytes = 0;
            for (Parameter p : params) {
                trainable += p.tensor().numel();
                trainableBytes += 4L * p.tensor().numel() + 4L * p.tensor().grad().length;
            }
            for (float[] state : opt.state().values()) trainableBytes += 4L * state.length;
            long frozen = 0, frozenBytes = 0;
            for (var t : model.namedTensors().values()) {
                if (t.requiresGrad()) continue;
                frozen += t.numel();
                frozenBytes += t.bytes();
            }
            OpProfile.enable(false);
            Map<String, double[]> profile = s.profile() ? OpProfile.snapshot() : Map.of();
            double flops = trainFlops(config, s);
            return new Result(s.method(), median, times, jvm, s.batch() * s.seqLen() / median, flops,
                    flops / median / 1e9, trainable, model.parameterCount(), peakHeapMb(), LiveHeap.peakMb(),
                    (double) trainableBytes / Math.max(1, trainable), frozen == 0 ? 0 : (double) frozenBytes / frozen,
                    profile);
        }
    }

    /** Training FLOPs of one step, as the peer counts them (its {@code flop_model}). */
    public static double trainFlops(LlamaConfig c, Settings s) {
        double d = c.hiddenSize(), f = c.intermediateSize(), V = c.vocabSize(), L = c.numHiddenLayers(), r = s.rank();
        double B = s.batch(), T = s.seqLen(), n = B * T;
        double linLayer = 4 * d * d + 3 * d * f;
        double fwdLin = 2 * n * (L * linLayer + d * V);
        double fwdAttn = L * 2 * (2 * B * T * T * d);
        if (s.method().equals(TrainConfig.FULL)) return 3 * (fwdLin + fwdAttn);
        double adLayer = 4 * r * (d + d) + 3 * r * (d + f);
        double fwdAd = 2 * n * L * adLayer;
        double[][] mods = {{d, d}, {d, d}, {d, d}, {d, d}, {d, f}, {d, f}, {f, d}};
        double doraNeeded = 0;
        for (double[] io : mods) doraNeeded += L * (2 * r * io[0] * io[1] + 3 * io[0] * io[1]);
        double l0qkv = 2 * n * 3 * d * d;
        return fwdLin + (fwdLin - l0qkv) + 3 * fwdAttn + 3 * fwdAd + (PeftMethods.named(s.method()).useDora() ? doraNeeded : 0);
    }

    private static void resetPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();
    }

    private static double peakHeapMb() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) sum += pool.getPeakUsage().getUsed();
        }
        return sum / (1024.0 * 1024.0);
    }
}
