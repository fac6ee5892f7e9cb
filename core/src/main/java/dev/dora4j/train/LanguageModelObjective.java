package dev.dora4j.train;

import dev.dora4j.autograd.Tape;
import dev.dora4j.data.Example;
import dev.dora4j.eval.Evaluator;
import dev.dora4j.eval.Score;
import dev.dora4j.model.CausalLM;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.BufferPool;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Next-token cross-entropy of a causal language model over target tokens; micro-batches padded to their longest example. */
public final class LanguageModelObjective implements Objective {
    private final CausalLM model;
    private final List<Example> train, eval;
    /** Buffers each micro-batch's forward and backward reuse from the one before. */
    private final BufferPool buffers = new BufferPool();

    public LanguageModelObjective(CausalLM model, List<Example> train, List<Example> eval) {
        this.model = model;
        this.train = train;
        this.eval = eval;
    }

    @Override
    public int size() {
        return train.size();
    }

    @Override
    public int targets(int i) {
        return train.get(i).targetCount();
    }

    @Override
    public int tokens(int i) {
        return train.get(i).length();
    }

    @Override
    public double forwardBackward(int[] micro, float normalizer) {
        int seqLen = 0;
        for (int i : micro) seqLen = Math.max(seqLen, train.get(i).length());
        int[] ids = new int[micro.length * seqLen];
        int[] labels = new int[ids.length];
        Arrays.fill(labels, -100);
        for (int b = 0; b < micro.length; b++) {
            Example e = train.get(micro[b]);
            System.arraycopy(e.inputIds(), 0, ids, b * seqLen, e.length());
            System.arraycopy(e.labels(), 0, labels, b * seqLen, e.length());
        }
        int[] targets = CausalLM.shiftLabels(labels, micro.length, seqLen);
        if (CausalLM.countTargets(targets) == 0) return 0;
        Tape tape = Tape.training(buffers);
        var loss = model.loss(tape, ids, targets, micro.length, seqLen, normalizer);
        double value = loss.data()[0];
        HeapBudget.atForwardEnd(ids.length);
        tape.backward(loss);
        buffers.endStep();
        return value;
    }

    @Override
    public Score evaluate(int batchSize) {
        return eval == null ? null : Evaluator.evaluate(model, eval, batchSize);
    }

    @Override
    public Map<String, Linear> linears() {
        return model.linears();
    }
}
