package dev.dora4j.kernel;

/** How a frozen weight matrix keeps its values, and the nominal bits each value takes. */
public enum WeightStorage {
    F32(32),
    BF16(16),
    F16(16),
    INT8(8),
    NF4(4),
    FP4(4);

    private final int bits;

    WeightStorage(int bits) {
        this.bits = bits;
    }

    /** Bits per weight of the values alone (scales such as absmax come on top, see {@link WeightMatrix#bytes}). */
    public int bits() {
        return bits;
    }

    /** True for the storages that hold quantised codes and scales rather than floating-point values. */
    public boolean quantized() {
        return bits < 16;
    }
}
