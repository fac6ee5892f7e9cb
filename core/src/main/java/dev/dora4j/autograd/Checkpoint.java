package dev.dora4j.autograd;

import dev.dora4j.tensor.Tensor;
import java.util.function.BiFunction;

/**
 * Activation checkpointing: runs a segment without recording, keeps only its input, and in
 * backward runs it again on a private tape to get the gradients. Trades one extra forward of the
 * segment for not keeping its activations. The segment must compute the same values both times;
 * {@code beforeRecompute} restores any random state it draws from (dropout masks).
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static Tensor apply(Tape tape, Tensor x, BiFunction<Tape, Tensor, Tensor> segment, Runnable beforeRecompute) {
        Tensor out = segment.apply(Tape.inference(), x);
        if (!tape.recording()) return out;
        Tensor result = Tensor.param(out.data(), out.shape());
        tape.record(() -> {
            beforeRecompute.run();
            Tape inner = tape.pool() == null ? Tape.training() : Tape.training(tape.pool());
            Tensor input = Tensor.param(x.data(), x.shape());
            Tensor y = segment.apply(inner, input);
            if (!y.requiresGrad()) return;
            System.arraycopy(result.grad(), 0, y.grad(), 0, y.numel());
            inner.backwardFromSeeded();
            if (x.requiresGrad()) {
                float[] gx = x.grad(), gi = input.grad();
                for (int i = 0; i < gx.length; i++) gx[i] += gi[i];
            }
        });
        return result;
    }
}
