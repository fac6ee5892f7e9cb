package dev.dora4j.tensor;

import dev.dora4j.kernel.Half;
import java.util.Arrays;

/**
 * A contiguous row-major tensor: a shape, its values and, for trainable tensors, a gradient buffer
 * of the same size, allocated (zeroed) when it is first asked for: an op's output gets its buffer
 * only when backward reaches the op that consumed it. Frozen tensors carry no gradient buffer at all. A frozen tensor may keep its
 * values in BF16 or F16 (two bytes each, as a model file stores them); {@link #floats()} widens
 * them on demand, and making such a tensor trainable widens it to float for good.
 */
public final class Tensor {
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    private final int[] shape;
    private float[] data;
    private short[] half;
    private DType halfType;
    private boolean trainable;
    private float[] grad;
    private String name;

    private Tensor(float[] data, int[] shape, boolean requiresGrad) {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException(
                    "data length " + data.length + " does not match shape " + Arrays.toString(shape));
        }
        this.shape = shape.clone();
        this.data = data;
        this.trainable = requiresGrad;
    }

    /** A frozen tensor over {@code data} (not copied). */
    public static Tensor of(float[] data, int... shape) {
        return new Tensor(data, shape, false);
    }

    /** A frozen tensor that keeps BF16 or F16 bit patterns (not copied). */
    public static Tensor half(short[] bits, DType dtype, int... shape) {
        if (dtype != DType.BF16 && dtype != DType.F16) throw new IllegalArgumentException("not a 16-bit float type: " + dtype);
        if (numel(shape) != bits.length) {
            throw new IllegalArgumentException("data length " + bits.length + " does not match shape " + Arrays.toString(shape));
        }
        Tensor t = new Tensor(shape);
        t.half = bits;
        t.halfType = dtype;
        return t;
    }

    private Tensor(int[] shape) {
        this.shape = shape.clone();
    }

    /** True when the values are kept as 16-bit floats. */
    public boolean isHalf() {
        return half != null;
    }

    /** F32, or the 16-bit type the values are kept in. */
    public DType dtype() {
        return half != null ? halfType : DType.F32;
    }

    /** Bytes the values occupy. */
    public long bytes() {
        return half != null ? 2L * half.length : 4L * data.length;
    }

    /**
     * The values as floats for reading: the tensor's own array, or for a 16-bit tensor a per-thread
     * scratch array that the next {@code floats()} call on the same thread overwrites. Use it at once;
     * do not keep it.
     */
    public float[] floats() {
        if (half == null) return data;
        float[][] holder = SCRATCH.get();
        if (holder[0].length < half.length) holder[0] = new float[half.length];
        widenInto(holder[0]);
        return holder[0];
    }

    /** A new float array holding the values. */
    public float[] toFloatArray() {
        if (half == null) return data.clone();
        float[] out = new float[half.length];
        widenInto(out);
        return out;
    }

    /** Overwrites the values (rounded to nearest even for a 16-bit tensor). */
    public void set(float[] values) {
        if (values.length != numel()) throw new IllegalArgumentException("set: " + values.length + " values for " + this);
        if (half == null) {
            System.arraycopy(values, 0, data, 0, values.length);
        } else if (halfType == DType.BF16) {
            Half.floatToBf16(values, 0, half, 0, values.length);
        } else {
            Half.floatToF16(values, 0, half, 0, values.length);
        }
    }

    private void widenInto(float[] out) {
        if (halfType == DType.BF16) Half.bf16ToFloat(half, 0, out, 0, half.length);
        else Half.f16ToFloat(half, 0, out, 0, half.length);
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
        return half != null ? half.length : data.length;
    }

    /** Size of the last dimension. */
    public int cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Product of all but the last dimension: the number of rows when viewed as a matrix. */
    public int rows() {
        return shape.length == 0 ? 1 : numel() / Math.max(1, cols());
    }

    /** The float values themselves; a 16-bit tensor has none (see {@link #floats()}). */
    public float[] data() {
        if (half != null) throw new IllegalStateException(this + " keeps " + halfType + " values; read them with floats()");
        return data;
    }

    /** The gradient buffer (zeros when first asked for), or null for a frozen tensor. */
    public float[] grad() {
        float[] g = grad;
        return g != null || !trainable ? g : allocateGrad();
    }

    // locked: backward's parallel chunks may ask for an input's gradient at the same moment
    private synchronized float[] allocateGrad() {
        if (grad == null && trainable) grad = new float[data.length];
        return grad;
    }

    public boolean requiresGrad() {
        return trainable;
    }

    /** Makes this tensor trainable (allocating a gradient) or frozen (dropping it). */
    public Tensor requiresGrad(boolean on) {
        if (on && half != null) {
            data = toFloatArray();
            half = null;
            halfType = null;
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
        return half != null ? half(half.clone(), halfType, shape) : of(data.clone(), shape);
    }

    @Override
    public String toString() {
        return (name == null ? "Tensor" : name) + Arrays.toString(shape) + (half != null ? " " + halfType : "")
                + (trainable ? " (trainable)" : "");
    }
}
