package dev.dora4j.peft;

/** A tensor read from an adapter file: its key, values as float32 and shape. */
public record FileTensor(String name, float[] values, long[] shape) {
    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return (int) shape[i];
    }
}
