package dev.dora4j.autograd;

import dev.dora4j.tensor.BufferPool;
import dev.dora4j.tensor.Tensor;
import java.util.function.BiFunction;

/**
 * Activation checkpointing: runs a segment without recording, keeps only its input, and in
 * backward runs it again on a private tape to get the gradients. Trades one extra forward of the
 * segment for not keeping its activations. The segment must compute the same values both times;
 * {@code beforeRecompute} restores any random state it draws from (dropout masks). When the tape has a
 * {@link BufferPool}, both runs of the segment take their buffers from it and give them back (the first run's as soon
 * as it ends, but for its output), so a checkpointed step allocates as little as one that keeps its activations.
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static Tensor apply(Tape tape, Tensor x, BiFunction<Tape, Tensor, Tensor> segment, Runnable beforeRecompute) {
        BufferPool pool = tape.pool();
        if (!tape.recording() || pool == null) {
            Tensor out = segment.apply(Tape.inference(), x);
            return tape.recording() ? record(tape, x, Tensor.param(out.data(), out.shape()), segment, beforeRecompute) : out;
        }
        // with a pool, the segment's buffers go straight back to it but its output's, which the result keeps (and
        // gives back once the checkpoint has run backward)
        Tape scratch = Tape.scratch(pool);
        Tensor out = segment.apply(scratch, x);
        scratch.discardExcept(out.data());
        return record(tape, x, Tensor.param(out.data(), out.shape()).pooled(pool), segment, beforeRecompute);
    }

    private static Tensor record(Tape tape, Tensor x, Tensor result, BiFunction<Tape, Tensor, Tensor> segment,
                                 Runnable beforeRecompute) {
        tape.record(null, result, () -> {
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
