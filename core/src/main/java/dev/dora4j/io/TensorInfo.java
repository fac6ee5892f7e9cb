package dev.dora4j.io;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor entry of a safetensors header.
 *
 * @param name      the tensor's key in the header
 * @param dtype     the element type when it is readable as floats (F32, F16, BF16); null for stored-only types
 * @param dtypeName the element type exactly as the file names it ("F32", "I64", ...)
 * @param shape     dimensions, outermost first; empty for a scalar
 * @param begin     first byte of the data, relative to the first byte after the header
 * @param end       one past the last byte of the data, relative to the first byte after the header
 */
public record TensorInfo(String name, DType dtype, String dtypeName, long[] shape, long begin, long end) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtypeName, "dtypeName");
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements: the product of the dimensions (1 for a scalar, 0 when any dimension is 0). */
    public long numel() {
        long n = 1;
        for (long dim : shape) {
            n = Math.multiplyExact(n, dim);
        }
        return n;
    }

    /** Size of the data in bytes. */
    public long byteSize() {
        return end - begin;
    }

    /** The shape as ints, for in-memory tensors; throws when a dimension does not fit in an int. */
    public int[] intShape() {
        int[] dims = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] > Integer.MAX_VALUE) {
                throw new DoraException("tensor '" + name + "': dimension " + shape[i] + " of shape "
                        + Arrays.toString(shape) + " does not fit in an int");
            }
            dims[i] = (int) shape[i];
        }
        return dims;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TensorInfo that
                && name.equals(that.name)
                && dtype == that.dtype
                && dtypeName.equals(that.dtypeName)
                && Arrays.equals(shape, that.shape)
                && begin == that.begin
                && end == that.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtypeName, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return "TensorInfo[" + name + ", " + dtypeName + ", " + Arrays.toString(shape)
                + ", [" + begin + ", " + end + ")]";
    }
}
