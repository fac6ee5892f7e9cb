package dev.dora4j.tensor;

import java.util.Arrays;

/**
 * A contiguous row-major float tensor: a shape, its values and, for trainable tensors, a gradient
 * buffer of the same size. Frozen tensors carry no gradient buffer at all.
 */
public final class Tensor {
    private final int[] shape;
    private final float[] data;
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
        this.grad = requiresGrad ? new float[data.length] : null;
    }

    /** A frozen tensor over {@code data} (not copied). */
    public static Tensor of(float[] data, int... shape) {
        return new Tensor(data, shape, false);
    }

    /** A trainable tensor over {@code data} (not copied) with a zeroed gradient buffer. */
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
        return data.length;
    }

    /** Size of the last dimension. */
    public int cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Product of all but the last dimension: the number of rows when viewed as a matrix. */
    public int rows() {
        return shape.length == 0 ? 1 : data.length / Math.max(1, cols());
    }

    public float[] data() {
        return data;
    }

    /** The gradient buffer, or null for a frozen tensor. */
    public float[] grad() {
        return grad;
    }

    public boolean requiresGrad() {
        return grad != null;
    }

    /** Makes this tensor trainable (allocating a gradient) or frozen (dropping it). */
    public Tensor requiresGrad(boolean on) {
        if (on && grad == null) grad = new float[data.length];
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

    public float get(int i) {
        return data[i];
    }

    /** A frozen copy of the values. */
    public Tensor copy() {
        return of(data.clone(), shape);
    }

    @Override
    public String toString() {
        return (name == null ? "Tensor" : name) + Arrays.toString(shape) + (grad != null ? " (trainable)" : "");
    }
}
