package dev.dora4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.dora4j.DoraException;
import dev.dora4j.data.ClassificationData;
import dev.dora4j.data.Example;
import dev.dora4j.data.Examples;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.model.CausalLM;
import dev.dora4j.peft.ModuleAdapter;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.AdapterTensor;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;

import java.util.List;
import java.util.Map;

/**
 * A whole fine-tuning run from files to files: loads the model, tokenizer and data, attaches fresh
 * or given adapters (or makes every weight trainable), trains, keeps checkpoints and
 * {@code metrics.jsonl}, and writes the result into the output directory: a PEFT adapter, or a
 * full Hugging Face model directory. {@code run.json} records the settings so a killed run can be
 * resumed from its newest checkpoint and end with exactly the tensors the uninterrupted run has.
 */
public final class TrainingRun {
    public static final String RUN_FILE = "run.json";
    public static final String METRICS_FILE = "metrics.jsonl";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final TrainConfig config;
    private final Path out;
    private final TrainingTask task;
    private final Map<String, ModuleAdapter> adapters;
    private final PeftConfig adapterConfig;
    private final Trainer trainer;
    private final MetricsLog metrics;
    private final long totalParameters;

    /** A classification run's model, labels and data. */
    public record ClassifierSetup(BertClassifier model, ClassificationData.Prepared trainData,
            ClassificationData.Prepared evalData) {}

    private TrainingRun(TrainConfig config, Path out, Path defaultModel) {
        this.config = config;
        this.out = out;
        Path modelPath = config.model() != null ? Path.of(config.model()) : defaultModel;
        Path tokenizerPath = config.tokenizer() == null ? null : Path.of(config.tokenizer());
        this.task = config.isClassification() ? ClassificationTask.load(config, modelPath, tokenizerPath)
                : LanguageModelTask.load(config, modelPath, tokenizerPath);
        Map<String, Tensor> allTensors = task.allTensors();
        long total = 0;
        for (Tensor t : allTensors.values()) total += t.numel();
        this.totalParameters = total;
        List<Parameter> params = new ArrayList<>();
        if (config.isAdapter()) {
            if (config.initAdapter() != null) {
                AdapterFiles.Loaded init = AdapterFiles.read(Path.of(config.initAdapter()));
                adapterConfig = init.config();
                adapters = AdapterInjector.attach(task.linears(), task.embeddings(), init, task.outputHead(), true, config.seed());
                copySaved(init, task.savedModules(), Path.of(config.initAdapter()));
            } else {
                adapterConfig = task.adapterConfig(config, modelPath.getFileName().toString());
                adapters = AdapterInjector.inject(task.linears(), task.embeddings(), adapterConfig, task.outputHead(), config.seed());
            }
            float loraplus = config.adapterOptions().loraplusLrRatio();
            params.addAll(adapterParameters(adapters, config.magnitudeLrRatio(), loraplus));
            // a head is trained whole, as PEFT trains its modules_to_save; LoRA+ puts its 1-D bias in group B
            for (Tensor t : task.savedModules().values()) t.requiresGrad(true);
            for (Parameter p : fullParameters(task.savedModules(), PeftKeys.PREFIX)) {
                params.add(p.tensor().rank() == 1 ? new Parameter(p.name(), p.tensor(), p.decay(), loraplus) : p);
            }
        } else {
            adapters = Map.of();
            adapterConfig = null;
            for (Tensor t : allTensors.values()) t.requiresGrad(true);
            params.addAll(fullParameters(allTensors, ""));
        }
        Optimizer optimizer = Optimizer.create(config.optimizer(), params, config.weightDecay());
        this.trainer = new Trainer(config, task.objective(), optimizer, new TrainCheckpoints(out), this::writeTensors);
        this.metrics = new MetricsLog(out.resolve(METRICS_FILE));
    }

    /**
     * The trainable tensors of adapters under their PEFT keys, all with weight decay as transformers' Trainer
     * applies it; the magnitude's learning rate scaled by {@code magnitudeLrRatio}.
     */
    public static List<Parameter> adapterParameters(Map<String, ? extends ModuleAdapter> adapters, float magnitudeLrRatio) {
        return adapterParameters(adapters, magnitudeLrRatio, 1f);
    }

    /**
     * As {@link #adapterParameters(Map, float)}, with LoRA+ (PEFT's {@code create_loraplus_optimizer}): the up
     * projections and the trained vectors (PEFT's group B: {@code lora_B} and every 1-D parameter) at
     * {@code loraplusLrRatio} × lr, the magnitude at that times {@code magnitudeLrRatio}.
     */
    public static List<Parameter> adapterParameters(Map<String, ? extends ModuleAdapter> adapters, float magnitudeLrRatio,
            float loraplusLrRatio) {
        List<Parameter> params = new ArrayList<>();
        for (ModuleAdapter a : adapters.values()) {
            for (AdapterTensor t : a.tensors()) {
                float lrScale = switch (t.group()) {
                    case FROZEN -> 0f;
                    case DOWN -> 1f;
                    case UP, VECTOR -> loraplusLrRatio;
                    case MAGNITUDE -> loraplusLrRatio * magnitudeLrRatio;
                };
                if (t.trainable()) params.add(new Parameter(t.key(), t.tensor(), true, lrScale));
            }
        }
        return params;
    }

    /** Every weight of the model under its Hugging Face name; norm weights and biases without weight decay, as Trainer does. */
    public static List<Parameter> fullParameters(CausalLM model) {
        return fullParameters(model.namedTensors(), "");
    }

    /**
     * Tensors by name (with {@code prefix} in front) as parameters; norm weights (RMSNorm's {@code norm.weight},
     * LayerNorm's {@code LayerNorm.weight}) and biases without weight decay, as transformers' Trainer does.
     */
    static List<Parameter> fullParameters(Map<String, Tensor> tensors, String prefix) {
        List<Parameter> params = new ArrayList<>();
        for (var e : tensors.entrySet()) {
            String n = e.getKey();
            boolean decay = !(n.toLowerCase(java.util.Locale.ROOT).endsWith("norm.weight") || n.endsWith(".bias"));
            params.add(new Parameter(prefix + n, e.getValue(), decay, 1f));
        }
        return params;
    }

    /** Starts a new run in {@code out}, which must not hold another run. */
    public static TrainingRun start(TrainConfig config, Path out, Path defaultModel) {
        if (Files.exists(out.resolve(RUN_FILE))) {
            throw new DoraException(out + ": holds a previous run (" + RUN_FILE + "); continue it with --resume " + out
                    + " or choose another --out");
        }
        TrainingRun run = new TrainingRun(config, out, defaultModel);
        try {
            Files.createDirectories(out);
            AtomicFiles.writeString(out.resolve(RUN_FILE), JSON.writeValueAsString(config));
        } catch (IOException e) {
            throw new DoraException(out + ": cannot create the output directory: " + e.getMessage(), e);
        }
        run.metrics.truncateAfter(-1);
        return run;
    }

    /** Continues the run in {@code out} from its newest checkpoint (or from the start when it has none). */
    public static TrainingRun resume(Path out, Path defaultModel) {
        Path file = out.resolve(RUN_FILE);
        if (!Files.isRegularFile(file)) throw new DoraException(out + ": no " + RUN_FILE + " here; is this a training run's --out directory?");
        AtomicFiles.removeLeftovers(out);
        AtomicFiles.removeLeftovers(out.resolve(TrainCheckpoints.DIR));
        TrainConfig config;
        try {
            config = JSON.readValue(file.toFile(), TrainConfig.class);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read the run's settings: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        TrainingRun run = new TrainingRun(config, out, defaultModel);
        List<Path> all = new TrainCheckpoints(out).list();
        if (all.isEmpty()) {
            run.metrics.truncateAfter(0);
            return run;
        }
        Path newest = all.getLast();
        TrainCheckpoints.State state = TrainCheckpoints.readState(newest);
        run.loadTensors(newest);
        TrainCheckpoints.loadOptimizer(newest, run.trainer.parametersOptimizer(), state.step());
        run.trainer.restore(state, newest);
        run.metrics.truncateAfter(state.step());
        return run;
    }

    public TrainConfig config() {
        return config;
    }

    /** What the run trains: a language model or a classifier. */
    TrainingTask task() {
        return task;
    }

    /** The language model, or null for a classification run. */
    public CausalLM model() {
        return task instanceof LanguageModelTask lm ? lm.model() : null;
    }

    /** The classifier with its labels and data, or null for a language-model run. */
    public ClassifierSetup classifier() {
        return task instanceof ClassificationTask c ? new ClassifierSetup(c.classifier(), c.trainData(), c.evalData()) : null;
    }

    /** Every weight of the model (and classifier head). */
    public long totalParameters() {
        return totalParameters;
    }

    public Tokenizer tokenizer() {
        return task.tokenizer();
    }

    public Trainer trainer() {
        return trainer;
    }

    public Map<String, ModuleAdapter> adapters() {
        return adapters;
    }

    /** The language model's training examples, or null for a classification run. */
    public List<Example> trainExamples() {
        return task instanceof LanguageModelTask lm ? lm.trainData().examples() : null;
    }

    /** The language model's held-out examples, or null (none, or a classification run). */
    public List<Example> evalExamples() {
        return task instanceof LanguageModelTask lm && lm.evalData() != null ? lm.evalData().examples() : null;
    }

    /** The training examples with the count of records that were cut to {@link #seqLen()} (language models). */
    public Examples.Prepared trainData() {
        return task instanceof LanguageModelTask lm ? lm.trainData() : null;
    }

    /** The held-out examples with their truncation count, or null without held-out data (language models). */
    public Examples.Prepared evalData() {
        return task instanceof LanguageModelTask lm ? lm.evalData() : null;
    }

    /** The sequence length examples were cut to: --seq-len, or the model's context when that is shorter. */
    public int seqLen() {
        return task.seqLen();
    }

    public long trainableParameters() {
        long n = 0;
        for (Parameter p : trainer.parameters()) n += p.tensor().numel();
        return n;
    }

    /** Trains to the end (or for {@code maxSteps} more steps), logging metrics, then writes the result when finished. */
    public void run(Trainer.Listener listener, long maxSteps) {
        trainer.run(new Trainer.Listener() {
            @Override
            public void onStep(Trainer.StepMetrics m) {
                metrics.step(m);
                listener.onStep(m);
            }

            @Override
            public void onEval(long step, dev.dora4j.eval.Score r) {
                metrics.eval(step, r);
                listener.onEval(step, r);
            }

            @Override
            public void onCheckpoint(long step, Path dir) {
                listener.onCheckpoint(step, dir);
            }
        }, maxSteps);
        if (trainer.step() >= trainer.totalSteps()) writeFinal();
    }

    private void writeFinal() {
        writeTensors(out);
        if (!config.isAdapter()) {
            Path tok = Path.of(task.tokenizer().source());
            String name = tok.getFileName().toString().endsWith(".json") ? "tokenizer.json" : "tokenizer.bin";
            AtomicFiles.write(out.resolve(name), tmp -> Files.copy(tok, tmp));
            try {
                Path cfg = tok.resolveSibling("tokenizer_config.json");
                if (name.equals("tokenizer.json") && Files.isRegularFile(cfg)) {
                    AtomicFiles.writeString(out.resolve("tokenizer_config.json"), Files.readString(cfg));
                }
            } catch (IOException e) {
                throw new DoraException(out + ": cannot copy the tokenizer: " + e.getMessage(), e);
            }
        }
    }

    /** The trained tensors as a PEFT adapter or a full model, into {@code dir}. */
    private void writeTensors(Path dir) {
        if (config.isAdapter()) AdapterFiles.writeFiles(dir, adapterConfig, adapters, task.savedModules());
        else task.writeModel(dir);
        task.writeExtras(dir);
    }

    /** The head tensors saved in an adapter's modules_to_save, copied into the run's head. */
    private static void copySaved(AdapterFiles.Loaded loaded, Map<String, Tensor> into, Path dir) {
        for (var e : into.entrySet()) {
            AdapterFiles.Saved s = loaded.saved().get(e.getKey());
            if (s == null) throw new DoraException(dir + ": no tensor '" + PeftKeys.PREFIX + e.getKey() + "' for the classifier head");
            copy(s.values(), e.getValue(), dir, PeftKeys.PREFIX + e.getKey());
        }
    }

    private void loadTensors(Path checkpoint) {
        if (config.isAdapter()) {
            AdapterFiles.Loaded loaded = AdapterFiles.read(checkpoint);
            copySaved(loaded, task.savedModules(), checkpoint);
            for (var e : adapters.entrySet()) {
                if (!loaded.modules().containsKey(e.getKey())) {
                    throw new DoraException(checkpoint + ": no tensors for module '" + e.getKey() + "'");
                }
                for (AdapterTensor t : e.getValue().tensors()) {
                    if (!t.trainable()) continue;
                    float[] values = loaded.tensors().get(t.key());
                    if (values == null) throw new DoraException(checkpoint + ": no tensor '" + t.key() + "'");
                    copy(values, t.tensor(), checkpoint, t.key());
                }
            }
        } else {
            try (SafetensorsFile f = SafetensorsFile.open(checkpoint.resolve("model.safetensors"))) {
                for (var e : task.allTensors().entrySet()) copy(f.readFloats(e.getKey()), e.getValue(), checkpoint, e.getKey());
            }
        }
    }

    private static void copy(float[] from, Tensor into, Path file, String name) {
        if (from.length != into.numel()) throw new DoraException(file + ": tensor '" + name + "' does not match the run's shape");
        System.arraycopy(from, 0, into.data(), 0, from.length);
    }
}
