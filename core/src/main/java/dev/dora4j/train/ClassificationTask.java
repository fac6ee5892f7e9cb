package dev.dora4j.train;

import dev.dora4j.DoraException;
import dev.dora4j.data.ClassificationData;
import dev.dora4j.data.ClassificationReader;
import dev.dora4j.data.LabeledText;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.model.BertWriter;
import dev.dora4j.model.ClassifierInfo;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Sequence classification: a head on a pooled BERT-family encoder, trained with cross-entropy over the labels. */
record ClassificationTask(BertClassifier classifier, Tokenizer tokenizer, int seqLen, ClassificationData.Prepared trainData,
        ClassificationData.Prepared evalData) implements TrainingTask {

    /** PEFT's {@code modules_to_save} for {@code task_type: SEQ_CLS}: the head names of transformers' classifiers. */
    static final List<String> SEQ_CLS_MODULES = List.of("classifier", "score");

    /** Loads the encoder (modules named "bert.…" as in BertForSequenceClassification), tokenizer, labels and data. */
    static ClassificationTask load(TrainConfig config, Path modelPath, Path tokenizerPath) {
        BertModel bert = BertLoader.load(modelPath, "bert.", config.linearStorage());
        Tokenizer tokenizer = Tokenizers.load(modelPath, tokenizerPath);
        int seqLen = Math.min(config.seqLen(), bert.contextLength());
        List<LabeledText> records = ClassificationReader.read(Path.of(config.data()), config.coarseLabels());
        List<String> labels = ClassificationData.labelsOf(records);
        if (labels.size() < 2) throw new DoraException(config.data() + ": a classifier needs at least two labels, found " + labels);
        var trainSet = ClassificationData.prepare(records, tokenizer, seqLen, labels);
        var evalSet = config.evalData() == null ? null : ClassificationData.prepare(
                ClassificationReader.read(Path.of(config.evalData()), config.coarseLabels()), tokenizer, seqLen, labels);
        BertClassifier cls = BertClassifier.create(bert, labels, config.pooling(), config.seed());
        bert.activationCheckpointing(config.activationCheckpointing());
        HeapBudget.beforeTraining(bert.namedTensors().values(), config.activationCheckpointing());
        return new ClassificationTask(cls, tokenizer, seqLen, trainSet, evalSet);
    }

    @Override
    public Map<String, Linear> linears() {
        return classifier.bert().linears();
    }

    @Override
    public String outputHead() {
        return BertClassifier.HEAD;
    }

    @Override
    public Map<String, Tensor> allTensors() {
        Map<String, Tensor> all = new LinkedHashMap<>(classifier.bert().namedTensors());
        all.putAll(classifier.headTensors());
        return all;
    }

    @Override
    public Map<String, Tensor> savedModules() {
        return classifier.headTensors();
    }

    @Override
    public List<String> modulesToSave() {
        return SEQ_CLS_MODULES;
    }

    @Override
    public String taskType() {
        return "SEQ_CLS";
    }

    @Override
    public Objective objective() {
        return new ClassificationObjective(classifier, trainData.examples(), evalData == null ? null : evalData.examples());
    }

    @Override
    public void writeModel(Path dir) {
        BertWriter.writeClassifier(classifier, dir, DType.F32);
    }

    @Override
    public void writeExtras(Path dir) {
        ClassifierInfo.write(dir, classifier.labels(), classifier.pooling());
    }
}
