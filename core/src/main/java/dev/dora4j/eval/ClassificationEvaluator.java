package dev.dora4j.eval;

import dev.dora4j.autograd.Tape;
import dev.dora4j.data.ClassificationExample;
import dev.dora4j.model.BertClassifier;
import java.util.List;

/** Accuracy, macro-F1 and mean cross-entropy of a classifier over a set of examples, and its predictions. */
public final class ClassificationEvaluator {
    private ClassificationEvaluator() {}

    /** Examples {@code from .. to} packed end to end: ids, offsets (one more than the count) and labels. */
    public record Packed(int[] ids, int[] offsets, int[] labels) {
        public static Packed of(List<ClassificationExample> examples, int[] indices) {
            int total = 0;
            for (int i : indices) total += examples.get(i).length();
            int[] ids = new int[total], offsets = new int[indices.length + 1], labels = new int[indices.length];
            for (int b = 0; b < indices.length; b++) {
                ClassificationExample e = examples.get(indices[b]);
                System.arraycopy(e.inputIds(), 0, ids, offsets[b], e.length());
                offsets[b + 1] = offsets[b] + e.length();
                labels[b] = e.label();
            }
            return new Packed(ids, offsets, labels);
        }
    }

    public static ClassificationMetrics evaluate(BertClassifier model, List<ClassificationExample> examples, int batchSize) {
        return of(model, examples, predict(model, examples, batchSize));
    }

    /** Per example its predicted class (the first of equal maxima) and its cross-entropy: {@code [n][2]}. */
    public static double[][] predict(BertClassifier model, List<ClassificationExample> examples, int batchSize) {
        double[][] out = new double[examples.size()][];
        int c = model.labels().size();
        for (int start = 0; start < examples.size(); start += batchSize) {
            int end = Math.min(examples.size(), start + batchSize);
            int[] idx = new int[end - start];
            for (int i = 0; i < idx.length; i++) idx[i] = start + i;
            Packed p = Packed.of(examples, idx);
            float[] logits = model.logits(Tape.inference(), p.ids(), p.offsets()).data();
            for (int b = 0; b < idx.length; b++) {
                int best = 0;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < c; k++) {
                    if (logits[b * c + k] > max) {
                        max = logits[b * c + k];
                        best = k;
                    }
                }
                double sum = 0;
                for (int k = 0; k < c; k++) sum += Math.exp(logits[b * c + k] - max);
                double ce = max + Math.log(sum) - logits[b * c + p.labels()[b]];
                out[start + b] = new double[] {best, ce};
            }
        }
        return out;
    }

    private static ClassificationMetrics of(BertClassifier model, List<ClassificationExample> examples, double[][] predictions) {
        int n = examples.size();
        int[] gold = new int[n], predicted = new int[n];
        double lossSum = 0;
        for (int i = 0; i < n; i++) {
            gold[i] = examples.get(i).label();
            predicted[i] = (int) predictions[i][0];
            lossSum += predictions[i][1];
        }
        return ClassificationMetrics.of(gold, predicted, lossSum, model.labels());
    }
}
