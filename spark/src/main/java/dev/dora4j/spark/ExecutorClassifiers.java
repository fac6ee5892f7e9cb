package dev.dora4j.spark;

import dev.dora4j.data.ClassificationData;
import dev.dora4j.data.ClassificationExample;
import dev.dora4j.data.LabeledText;
import dev.dora4j.eval.ClassificationEvaluator;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One trained classifier per executor JVM and job, loaded when the JVM's first task needs it and kept for its later
 * tasks; tasks of one JVM take turns on it. Texts are tokenized as {@code eval --task classify} does, cut to the model's
 * context.
 */
final class ExecutorClassifiers {
    private record Loaded(BertClassifier classifier, Tokenizer tokenizer) {}

    private static final Map<ClassifyJob, Loaded> LOADED = new ConcurrentHashMap<>();

    private ExecutorClassifiers() {}

    /** The predicted label name of every text. */
    static List<String> predict(ClassifyJob job, List<String> texts) {
        Loaded l = LOADED.computeIfAbsent(job, ExecutorClassifiers::load);
        synchronized (l) {
            BertClassifier c = l.classifier();
            List<LabeledText> records = new ArrayList<>(texts.size());
            // the label is a placeholder the tokenizing step requires; only the predicted class is read
            for (String t : texts) records.add(new LabeledText(job.model(), t, c.labels().getFirst()));
            List<ClassificationExample> examples = ClassificationData.prepare(records, l.tokenizer(),
                    c.bert().config().maxPositionEmbeddings(), c.labels()).examples();
            double[][] predicted = ClassificationEvaluator.predict(c, examples, job.batch());
            List<String> labels = new ArrayList<>(texts.size());
            for (double[] p : predicted) labels.add(c.labels().get((int) p[0]));
            return labels;
        }
    }

    private static Loaded load(ClassifyJob job) {
        Path model = Path.of(job.model());
        BertClassifier c = BertClassifier.load(model, job.adapter() == null ? null : Path.of(job.adapter()), job.pooling(), job.storage());
        return new Loaded(c, Tokenizers.load(model, job.tokenizer() == null ? null : Path.of(job.tokenizer())));
    }
}
