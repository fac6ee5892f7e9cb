package dev.dora4j.model;

import dev.dora4j.kernel.WeightStorage;

/** The memory a Llama-family model's weights take in a given storage, before any of it is allocated. */
public final class ModelMemory {
    private ModelMemory() {}

    /** Bytes of every weight of {@code c} stored as {@code dtype}, with the decoder layers' linears as {@code linears}. */
    public static long weightBytes(LlamaConfig c, WeightStorage dtype, LinearStorage linears) {
        long h = c.hiddenSize(), ff = c.intermediateSize(), vocab = c.vocabSize(), layers = c.numHiddenLayers();
        long tables = vocab * h * (c.tieWordEmbeddings() ? 1 : 2);
        long norms = h * (2 * layers + 1);
        WeightStorage linear = linears.storage() != null ? linears.storage() : dtype;
        double perLayer = bytes(c.qDim() * h, h, linear, linears) + 2 * bytes(c.kvDim() * h, h, linear, linears)
                + bytes(h * c.qDim(), c.qDim(), linear, linears) + 2 * bytes(ff * h, h, linear, linears)
                + bytes(h * ff, ff, linear, linears);
        return (long) (tables * dtype.bits() / 8.0 + 4.0 * norms + layers * perLayer);
    }

    // n values with rows of cols values: codes plus scales (int8: one float per row; 4-bit: one absmax per block,
    // itself 8-bit with a float per 256 blocks under double quantisation)
    private static double bytes(long n, long cols, WeightStorage s, LinearStorage linears) {
        double bits = switch (s) {
            case INT8 -> 8 + 32.0 / cols;
            case NF4, FP4 -> 4 + (linears.doubleQuant() ? 8.0 / linears.blockSize() + 32.0 / (256.0 * linears.blockSize())
                    : 32.0 / linears.blockSize());
            default -> s.bits();
        };
        return n * bits / 8;
    }
}
