package dev.dora4j.eval;

import dev.dora4j.autograd.Tape;
import dev.dora4j.data.Example;
import dev.dora4j.model.CausalLM;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Mean cross-entropy over every target token of a set of examples, and its perplexity. Examples
 * are scored in batches of similar length, padded at the end; causal attention means padding never
 * changes the scores of the real positions, and padded positions have no target.
 */
public final class Evaluator {
    /** The mean loss, exp(loss), and how many target tokens it averages. */
    public record Result(double loss, double perplexity, long tokens) implements Score {}

    private Evaluator() {}

    public static Result evaluate(CausalLM model, List<Example> examples, int batchSize) {
        List<Example> sorted = new ArrayList<>(examples);
        sorted.sort(Comparator.comparingInt(Example::length));
        double total = 0;
        long tokens = 0;
        for (int start = 0; start < sorted.size(); start += batchSize) {
            List<Example> batch = sorted.subList(start, Math.min(sorted.size(), start + batchSize));
            int seqLen = batch.getLast().length();
            int[] ids = new int[batch.size() * seqLen];
            int[] labels = new int[ids.length];
            java.util.Arrays.fill(labels, -100);
            for (int b = 0; b < batch.size(); b++) {
                Example e = batch.get(b);
                System.arraycopy(e.inputIds(), 0, ids, b * seqLen, e.length());
                System.arraycopy(e.labels(), 0, labels, b * seqLen, e.length());
            }
            int[] targets = CausalLM.shiftLabels(labels, batch.size(), seqLen);
            int n = CausalLM.countTargets(targets);
            if (n == 0) continue;
            total += model.loss(Tape.inference(), ids, targets, batch.size(), seqLen, 1f).data()[0];
            tokens += n;
        }
        double loss = tokens == 0 ? Double.NaN : total / tokens;
        return new Result(loss, Math.exp(loss), tokens);
    }
}
