package dev.dora4j.train;

import dev.dora4j.data.DatasetReader;
import dev.dora4j.data.Example;
import dev.dora4j.data.Examples;
import dev.dora4j.data.Record;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.ModelRegistry;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Causal language modelling on text data: next-token cross-entropy over a {@link CausalLM}. */
record LanguageModelTask(CausalLM model, Tokenizer tokenizer, int seqLen, Examples.Prepared trainData,
        Examples.Prepared evalData) implements TrainingTask {

    /** Loads the model (before the tokenizer, so a bad model directory is what gets reported), tokenizer and data. */
    static LanguageModelTask load(TrainConfig config, Path modelPath, Path tokenizerPath) {
        CausalLM model = ModelRegistry.causalLM(modelPath, config.linearStorage());
        Tokenizer tokenizer = Tokenizers.load(modelPath, tokenizerPath);
        int seqLen = Math.min(config.seqLen(), model.contextLength());
        var records = DatasetReader.read(Path.of(config.data()));
        // Packed runs read whole texts and cut the token stream, so texts are not truncated before packing.
        Examples.Prepared trainData = config.pack() ? packed(records, Examples.tokenize(records, tokenizer, Integer.MAX_VALUE,
                config.trainOnInputs()), seqLen) : Examples.prepare(records, tokenizer, seqLen, config.trainOnInputs());
        Examples.Prepared evalData = config.evalData() == null ? null
                : Examples.prepare(DatasetReader.read(Path.of(config.evalData())), tokenizer, seqLen, config.trainOnInputs());
        model.activationCheckpointing(config.activationCheckpointing());
        HeapBudget.beforeTraining(model.namedTensors().values(), config.activationCheckpointing());
        return new LanguageModelTask(model, tokenizer, seqLen, trainData, evalData);
    }

    @Override
    public Map<String, Linear> linears() {
        return model.linears();
    }

    @Override
    public Map<String, Embedding> embeddings() {
        return model.embeddings();
    }

    @Override
    public String outputHead() {
        return model.outputHead();
    }

    @Override
    public Map<String, Tensor> allTensors() {
        return model.namedTensors();
    }

    @Override
    public Map<String, Tensor> savedModules() {
        return Map.of();
    }

    @Override
    public List<String> modulesToSave() {
        return List.of();
    }

    @Override
    public String taskType() {
        return "CAUSAL_LM";
    }

    @Override
    public Objective objective() {
        return new LanguageModelObjective(model, trainData.examples(), evalData == null ? null : evalData.examples());
    }

    @Override
    public void writeModel(Path dir) {
        ModelRegistry.writeCausalLM(model, dir, DType.F32);
    }

    /** Packed text, with the other records cut to {@code seqLen} and counted as {@link Examples#prepare} counts them. */
    private static Examples.Prepared packed(List<Record> records, List<Example> whole, int seqLen) {
        List<Example> others = truncateOthers(records, whole, seqLen);
        int truncated = 0, withoutTargets = 0;
        for (int i = 0; i < whole.size(); i++) {
            if (whole.get(i).length() > others.get(i).length()) {
                truncated++;
                if (others.get(i).targetCount() == 0) withoutTargets++;
            }
        }
        return new Examples.Prepared(Examples.pack(records, others, seqLen), records.size(), truncated, withoutTargets);
    }

    /** Non-text examples truncated to the sequence length (text examples are packed whole). */
    private static List<Example> truncateOthers(List<Record> records, List<Example> examples, int seqLen) {
        List<Example> out = new ArrayList<>(examples.size());
        for (int i = 0; i < examples.size(); i++) {
            Example e = examples.get(i);
            boolean text = records.get(i) instanceof Record.Text;
            out.add(text || e.length() <= seqLen ? e : new Example(e.source(), Arrays.copyOf(e.inputIds(), seqLen),
                    Arrays.copyOf(e.labels(), seqLen)));
        }
        return out;
    }
}
