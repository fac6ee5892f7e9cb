package dev.dora4j.train;

import dev.dora4j.autograd.Tape;
import dev.dora4j.data.ClassificationExample;
import dev.dora4j.eval.ClassificationEvaluator;
import dev.dora4j.eval.Score;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.BufferPool;
import java.util.List;
import java.util.Map;

/**
 * Cross-entropy of a sequence classifier over its examples' labels; each example counts once, so a batch's loss is
 * the mean over its sequences (transformers' {@code CrossEntropyLoss}). Micro-batches are packed end to end, without
 * padding.
 */
public final class ClassificationObjective implements Objective {
    private final BertClassifier model;
    private final List<ClassificationExample> train, eval;
    /** Buffers each micro-batch's forward and backward reuse from the one before. */
    private final BufferPool buffers = new BufferPool();

    public ClassificationObjective(BertClassifier model, List<ClassificationExample> train, List<ClassificationExample> eval) {
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
        return 1;
    }

    @Override
    public int tokens(int i) {
        return train.get(i).length();
    }

    @Override
    public double forwardBackward(int[] micro, float normalizer) {
        var p = ClassificationEvaluator.Packed.of(train, micro);
        Tape tape = Tape.training(buffers);
        var loss = model.loss(tape, p.ids(), p.offsets(), p.labels(), normalizer);
        double value = loss.data()[0];
        HeapBudget.atForwardEnd(p.ids().length);
        tape.backward(loss);
        buffers.endStep();
        return value;
    }

    @Override
    public Score evaluate(int batchSize) {
        return eval == null ? null : ClassificationEvaluator.evaluate(model, eval, batchSize);
    }

    @Override
    public Map<String, Linear> linears() {
        return model.bert().linears();
    }
}
