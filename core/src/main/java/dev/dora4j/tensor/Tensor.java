package dev.dora4j.tensor;

import dev.dora4j.kernel.F32Matrix;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.kernel.WeightStorage;
import java.util.Arrays;

/**
 * A contiguous row-major tensor: a shape, its values and, for trainable tensors, a gradient buffer
 * of the same size, allocated (zeroed) when it is first asked for: an op's output gets its buffer
 * only when backward reaches the op that consumed it. Frozen tensors carry no gradient buffer at all. A frozen
 * matrix may keep its values in another storage ({@link WeightMatrix}: BF16, F16 or quantised, as a model file
 * stores them); products read it through {@link #matrix()}, and making such a tensor trainable widens it to
 * float for good.
 */
public final class Tensor {
    private final int[] shape;
    private float[] data;
    private WeightMatrix stored;
    private boolean trainable;
    private float[] grad;
    private String name;
    private final int numel;
    /** Where a gradient buffer comes from and where both buffers go back to; null: plain arrays. */
    private BufferPool pool;
    private boolean recycled;
    /** Values given back to the pool until backward computes them again ({@link #releaseValues}). */
    private boolean released;
    /** Set by the op that made this tensor when its backward never reads these values. */
    private boolean overwritable;

    private Tensor(float[] data, int[] shape, boolean requiresGrad) {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException(
                    "data length " + data.length + " does not match shape " + Arrays.toString(shape));
        }
        this.shape = shape.clone();
        this.data = data;
        this.trainable = requiresGrad;
        this.numel = data.length;
    }

    /** A frozen tensor over {@code data} (not copied). */
    public static Tensor of(float[] data, int... shape) {
        return new Tensor(data, shape, false);
    }

    /** A frozen [rows, cols] tensor over a weight matrix in any storage (not copied). */
    public static Tensor of(WeightMatrix matrix) {
        if (matrix instanceof F32Matrix f && f.offset() == 0 && f.data().length == f.numel()) {
            return of(f.data(), f.rows(), f.cols());
        }
        Tensor t = new Tensor(new int[] {matrix.rows(), matrix.cols()});
        t.stored = matrix;
        return t;
    }

    private Tensor(int[] shape) {
        this.shape = shape.clone();
        this.numel = Math.toIntExact(numel(shape));
    }

    /** The values as a matrix for the products: the stored matrix, or an F32 view of a float tensor [rows, cols]. */
    public WeightMatrix matrix() {
        return stored != null ? stored : new F32Matrix(data(), rows(), cols());
    }

    /** How the values are kept: F32 unless the tensor holds another storage's matrix. */
    public WeightStorage storage() {
        return stored != null ? stored.storage() : WeightStorage.F32;
    }

    /** Bytes the values occupy. */
    public long bytes() {
        return stored != null ? stored.bytes() : 4L * numel;
    }

    /** A new float array holding the values. */
    public float[] toFloatArray() {
        return stored == null ? data().clone() : stored.toFloatArray();
    }

    /** Overwrites the values (rounded or quantised as the storage keeps them). */
    public void set(float[] values) {
        if (values.length != numel()) throw new IllegalArgumentException("set: " + values.length + " values for " + this);
        if (stored == null) System.arraycopy(values, 0, data(), 0, values.length);
        else stored = stored.encode(values);
    }

    /** A trainable tensor over {@code data} (not copied); its gradient starts at zero. */
    public static Tensor param(float[] data, int... shape) {
        return new Tensor(data, shape, true);
    }

    /** A zero tensor; trainable when {@code requiresGrad}. */
    public static Tensor zeros(boolean requiresGrad, int... shape) {
        return new Tensor(new float[Math.toIntExact(numel(shape))], shape, requiresGrad);
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int numel() {
        return numel;
    }

    /** Size of the last dimension. */
    public int cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Product of all but the last dimension: the number of rows when viewed as a matrix. */
    public int rows() {
        return shape.length == 0 ? 1 : numel() / Math.max(1, cols());
    }

    /** The float values themselves; a tensor in another storage has none (see {@link #matrix()}). */
    public float[] data() {
        if (stored != null) throw new IllegalStateException(this + " keeps " + stored.storage() + " values; read them with matrix()");
        if (data == null) throw released ? releasedError() : recycledError();
        return data;
    }

    /** The gradient buffer (zeros when first asked for), or null for a frozen tensor. */
    public float[] grad() {
        float[] g = grad;
        return g != null || !trainable ? g : allocateGrad(true);
    }

    /**
     * The gradient buffer for a contribution that covers every element, for a caller that can either write or add it:
     * while no contribution has been made (the gradient was never asked for), a buffer from the pool whose values are
     * undefined, with {@code accumulate} false, and the caller must write every element before anything reads it;
     * afterwards the gradient, with {@code accumulate} true. Null for a frozen tensor. Ask once per contribution,
     * before any parallel section writes it: the first contribution skips zeroing a buffer it overwrites anyway.
     */
    public synchronized GradWrite gradForWrite() {
        if (!trainable) return null;
        return grad != null ? new GradWrite(grad, true) : new GradWrite(allocateGrad(false), false);
    }

    /** A gradient buffer and whether a contribution is added to it ({@code accumulate}) or written over it. */
    public record GradWrite(float[] values, boolean accumulate) {
        /** {@code n} values of src from srcOff into the buffer from off: added when accumulating, else copied. */
        public void put(float[] src, int srcOff, int off, int n) {
            if (accumulate) VecOps.axpy(1f, src, srcOff, values, off, n);
            else System.arraycopy(src, srcOff, values, off, n);
        }
    }

    // locked: backward's parallel chunks may ask for an input's gradient at the same moment; zeroed unless the caller
    // writes it whole (gradForWrite)
    private synchronized float[] allocateGrad(boolean zeroed) {
        if (recycled) throw recycledError();
        if (grad == null && trainable) {
            grad = pool == null ? new float[numel] : zeroed ? pool.take(numel) : pool.takeForOverwrite(numel);
        }
        return grad;
    }

    /** Takes this op output's gradient buffer from {@code pool} and lets {@link #recycle} give its buffers back there. */
    public Tensor pooled(BufferPool pool) {
        this.pool = pool;
        return this;
    }

    /**
     * Gives the values and gradient back to the pool they came from, once nothing reads them any more (a training
     * tape calls this when the op that made this tensor has run backward); reading them afterwards fails. Values that
     * did not come from the pool stay readable; the gradient is dropped either way.
     */
    public void recycle() {
        if (pool == null) return;
        if (stored == null && pool.give(data)) data = null;
        float[] g;
        synchronized (this) {
            g = grad;
            grad = null;
            recycled = true;
        }
        pool.give(g);
    }

    /**
     * Gives the values back to the pool they came from while nothing reads them, to be computed again into a buffer
     * from that pool and set with {@link #restoreValues} before anything reads them in backward; true when they went
     * back (values not taken from a pool stay).
     */
    public boolean releaseValues() {
        if (pool == null || stored != null || data == null || !pool.give(data)) return false;
        data = null;
        released = true;
        return true;
    }

    /** Sets the values {@link #releaseValues released} before, computed again into {@code values}. */
    public void restoreValues(float[] values) {
        if (!released || values.length != numel) {
            throw new IllegalStateException(this + ": " + values.length + " values restored to a tensor whose values "
                    + (released ? "were released" : "were never released"));
        }
        data = values;
        released = false;
    }

    private IllegalStateException releasedError() {
        return new IllegalStateException(this + " gave its values back until backward computes them again; "
                + "an op read them in between");
    }

    private IllegalStateException recycledError() {
        return new IllegalStateException(this + " was recycled after backward; its buffers now belong to other tensors");
    }

    /**
     * Marks that the op that made this tensor never reads its values again (its backward reads only the gradient), so
     * that an op which is this tensor's only reader may overwrite them in place instead of taking a new buffer
     * ({@code TransformerOps.ropeInPlace}, {@code Ops.addInto}). Only the op that made the tensor may mark it.
     */
    public Tensor markOverwritable() {
        overwritable = true;
        return this;
    }

    /** True when the op that made this tensor does not read its values again: see {@link #markOverwritable()}. */
    public boolean overwritable() {
        return overwritable;
    }

    public boolean requiresGrad() {
        return trainable;
    }

    /** Makes this tensor trainable (allocating a gradient) or frozen (dropping it). */
    public Tensor requiresGrad(boolean on) {
        if (on && stored != null) {
            data = stored.toFloatArray();
            stored = null;
        }
        trainable = on;
        if (!on) grad = null;
        return this;
    }

    public void zeroGrad() {
        if (grad != null) Arrays.fill(grad, 0f);
    }

    public String name() {
        return name;
    }

    public Tensor named(String name) {
        this.name = name;
        return this;
    }

    /** A frozen copy of the values, in the same storage type. */
    public Tensor copy() {
        return stored != null ? of(stored) : of(data().clone(), shape);
    }

    @Override
    public String toString() {
        return (name == null ? "Tensor" : name) + Arrays.toString(shape) + (stored != null ? " " + stored.storage() : "")
                + (trainable ? " (trainable)" : "");
    }
}
