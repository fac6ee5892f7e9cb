package dev.dora4j.autograd;

import dev.dora4j.tensor.BufferPool;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A tape of coarse ops in creation order. Each op records one backward closure that reads the
 * output's gradient and accumulates into the gradients of its inputs; {@link #backward} replays
 * them in reverse. With recording off (inference), ops record nothing and outputs carry no gradient.
 *
 * <p>A training tape may draw its ops' buffers from a {@link BufferPool}: ops take their outputs and the values they
 * save for backward through {@link #floats}, name them when they record, and the tape gives them back as soon as the
 * op has run backward: by then every op that read the output has run backward too (they were recorded after it).
 */
public final class Tape {
    /** One op's backward rule. */
    @FunctionalInterface
    public interface Backward {
        void run();
    }

    /** One recorded op: its rule, the output it made (or null) and the buffers it saved for backward alone. */
    private record Entry(Backward backward, Tensor output, float[][] saved) {}

    private final List<Entry> ops = new ArrayList<>();
    private final BufferPool pool;
    /** The buffers a scratch tape's ops took, to give back at {@link #discardExcept}; null for other tapes. */
    private final List<float[]> taken;
    private boolean recording;
    /** Outputs whose ops can compute them again, with how: see {@link #recomputable} and {@link #release}. */
    private final Map<Tensor, Recompute> recomputable = new IdentityHashMap<>();

    private record Recompute(String op, Consumer<float[]> fill) {}

    public Tape(boolean recording) {
        this(recording, null);
    }

    private Tape(boolean recording, BufferPool pool) {
        this(recording, pool, null);
    }

    private Tape(boolean recording, BufferPool pool, List<float[]> taken) {
        this.recording = recording;
        this.pool = pool;
        this.taken = taken;
    }

    /** A tape that records nothing: forward passes for inference. */
    public static Tape inference() {
        return new Tape(false);
    }

    public static Tape training() {
        return new Tape(true);
    }

    /** A recording tape whose ops take their buffers from {@code pool} and give them back during backward. */
    public static Tape training(BufferPool pool) {
        return new Tape(true, pool);
    }

    /**
     * A tape that records nothing, for a forward pass whose intermediate values nobody keeps (a checkpointed segment):
     * its ops take their buffers from {@code pool}, and {@link #discardExcept} gives them back.
     */
    public static Tape scratch(BufferPool pool) {
        return new Tape(false, pool, new ArrayList<>());
    }

    /**
     * Gives back every buffer a scratch tape's ops took but {@code kept} (the values still wanted, which stay lent until
     * they are given back in turn): nothing may read the other values computed on it any more.
     */
    public void discardExcept(float[] kept) {
        if (taken == null) throw new IllegalStateException("discard: not a scratch tape");
        for (float[] buffer : taken) if (buffer != kept) pool.give(buffer);
        taken.clear();
    }

    /** The pool this tape's ops draw from, or null. */
    public BufferPool pool() {
        return pool;
    }

    /** A zeroed array of {@code n} floats for an op's output or saved values: from the pool when the tape has one. */
    public float[] floats(int n) {
        return lend(n, true);
    }

    /**
     * As {@link #floats}, for an op that writes every element before it reads any: the values are undefined (see
     * {@link BufferPool#takeForOverwrite}).
     */
    public float[] floatsForOverwrite(int n) {
        return lend(n, false);
    }

    private float[] lend(int n, boolean zeroed) {
        if (pool == null || !recording && taken == null) return new float[n];
        float[] buffer = zeroed ? pool.take(n) : pool.takeForOverwrite(n);
        if (taken != null) taken.add(buffer);
        return buffer;
    }

    /** Gives a buffer taken with {@link #floats} back before backward, when the op that took it is done with it. */
    public void give(float[] buffer) {
        if (pool != null) pool.give(buffer);
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
        if (recording) ops.add(new Entry(backward, null, null));
    }

    /** Records {@code backward} under an op name, for {@link OpProfile}. */
    public void record(String op, Backward backward) {
        if (recording) ops.add(new Entry(OpProfile.backward(op, backward), null, null));
    }

    /**
     * Records the backward of the op that made {@code output}; once it has run, the output's values and gradient and
     * the {@code saved} buffers go back to the tape's pool. Only buffers the op itself took may be named: an output
     * that shares its input's values, or a saved buffer that is an input's, must not. A null {@code op} is not timed
     * by {@link OpProfile} (a rule that runs other recorded ops).
     */
    public void record(String op, Tensor output, Backward backward, float[]... saved) {
        if (recording) ops.add(new Entry(op == null ? backward : OpProfile.backward(op, backward), output, saved));
    }

    /**
     * For an op that needs no gradient and so records no backward rule, yet took its output's values (and any other
     * {@code buffers}) with {@link #floats} (an embedding or a norm in front of the first trainable weight): gives them
     * back once every op recorded after it has run backward, as a recorded op's output is, since those ops may read
     * them there (an adapter's backward reads its input). Otherwise they would stay lent until the step ends and be
     * left to the collector: garbage every step.
     */
    public void recordNoGrad(float[]... buffers) {
        if (recording && pool != null) ops.add(new Entry(() -> {}, null, buffers));
    }

    /**
     * Declares that {@code output}'s values can be computed again from what its op keeps for its own backward anyway:
     * {@code fill} writes every one of them into an array whose values are undefined. Only on a recording tape with a
     * pool, for an output taken from it.
     */
    public void recomputable(Tensor output, String op, Consumer<float[]> fill) {
        if (recording && pool != null && output.requiresGrad()) recomputable.put(output, new Recompute(op, fill));
    }

    /**
     * Gives a {@link #recomputable} output's values back to the pool once every op that reads them has run forward, and
     * records a rule that computes them again, run in backward before the backward of every op recorded so far. The
     * ops that read the output must read its values in backward through the tensor ({@link Tensor#data()}), never
     * keep the array from forward. Does nothing for other tensors.
     */
    public void release(Tensor output) {
        Recompute how = recomputable.remove(output);
        if (how == null || !recording || !output.releaseValues()) return;
        ops.add(new Entry(OpProfile.backward(how.op(), () -> {
            float[] values = pool.takeForOverwrite(output.numel());
            how.fill().accept(values);
            output.restoreValues(values);
        }), null, null));
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
            Entry op = ops.set(i, null);
            op.backward().run();
            if (pool == null) continue;
            if (op.output() != null) op.output().recycle();
            if (op.saved() != null) for (float[] buffer : op.saved()) pool.give(buffer);
        }
        ops.clear();
        recomputable.clear();
    }

    public void clear() {
        ops.clear();
        recomputable.clear();
    }
}
