package dev.dora4j.autograd;

import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A tape of coarse ops in creation order. Each op records one backward closure that reads the
 * output's gradient and accumulates into the gradients of its inputs; {@link #backward} replays
 * them in reverse. With recording off (inference), ops record nothing and outputs carry no gradient.
 */
public final class Tape {
    /** One op's backward rule. */
    @FunctionalInterface
    public interface Backward {
        void run();
    }

    private final List<Backward> ops = new ArrayList<>();
    private boolean recording;

    public Tape(boolean recording) {
        this.recording = recording;
    }

    /** A tape that records nothing: forward passes for inference. */
    public static Tape inference() {
        return new Tape(false);
    }

    public static Tape training() {
        return new Tape(true);
    }

    public boolean recording() {
        return recording;
    }

    public void recording(boolean on) {
        this.recording = on;
    }

    /** True when an op with these inputs must record a backward rule. */
    public boolean needsGrad(Tensor... inputs) {
        if (!recording) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    public void record(Backward backward) {
        if (recording) ops.add(backward);
    }

    /** Records {@code backward} under an op name, for {@link OpProfile}. */
    public void record(String op, Backward backward) {
        if (recording) ops.add(OpProfile.backward(op, backward));
    }

    public int size() {
        return ops.size();
    }

    /** Seeds {@code loss}'s gradient with 1 (it must be a scalar) and runs every recorded op backward. */
    public void backward(Tensor loss) {
        if (loss.numel() != 1 || loss.grad() == null) {
            throw new IllegalArgumentException("backward needs a scalar loss that requires grad, got " + loss);
        }
        loss.grad()[0] = 1f;
        backwardFromSeeded();
    }

    /**
     * Runs every recorded op backward; output gradients must already be seeded. Clears the tape: each op's rule is
     * dropped as soon as it has run, so the activations and gradients that only it held can be collected while
     * backward goes on.
     */
    public void backwardFromSeeded() {
        for (int i = ops.size() - 1; i >= 0; i--) {
            Backward op = ops.set(i, null);
            op.run();
        }
        ops.clear();
    }

    public void clear() {
        ops.clear();
    }
}
