package dev.dora4j.eval;

import java.util.List;

/**
 * Classification scores from predictions and gold labels: accuracy, macro-F1 (the unweighted mean of each class's
 * F1 = 2·TP / (gold + predicted) over the classes that occur among the gold or predicted labels, as scikit-learn's
 * {@code f1_score(average="macro")}), the mean cross-entropy, and the confusion matrix
 * {@code confusion[gold][predicted]}.
 */
public record ClassificationMetrics(double loss, double accuracy, double macroF1, long examples, List<String> labels,
        long[][] confusion) implements Score {

    /** Scores predictions against gold labels; {@code lossSum} is the summed cross-entropy of the examples. */
    public static ClassificationMetrics of(int[] gold, int[] predicted, double lossSum, List<String> labels) {
        int c = labels.size();
        long[][] confusion = new long[c][c];
        long correct = 0;
        for (int i = 0; i < gold.length; i++) {
            confusion[gold[i]][predicted[i]]++;
            if (gold[i] == predicted[i]) correct++;
        }
        double f1Sum = 0;
        int classes = 0;
        for (int k = 0; k < c; k++) {
            long tp = confusion[k][k], goldK = 0, predK = 0;
            for (int j = 0; j < c; j++) {
                goldK += confusion[k][j];
                predK += confusion[j][k];
            }
            if (goldK == 0 && predK == 0) continue;
            classes++;
            f1Sum += goldK + predK == 0 ? 0 : 2.0 * tp / (goldK + predK);
        }
        int n = gold.length;
        return new ClassificationMetrics(n == 0 ? Double.NaN : lossSum / n, n == 0 ? Double.NaN : (double) correct / n,
                classes == 0 ? Double.NaN : f1Sum / classes, n, List.copyOf(labels), confusion);
    }
}
