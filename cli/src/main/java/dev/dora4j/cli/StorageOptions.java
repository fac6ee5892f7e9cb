package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.model.LinearStorage;
import picocli.CommandLine.Option;

/** How a command keeps the linear weights of the model it loads: --dtype, --quantize, --double-quant. */
final class StorageOptions {
    @Option(names = "--dtype", paramLabel = "f32|bf16|f16",
            description = "Convert the linear weights of the decoder/encoder layers to this type at load (default: as stored).")
    String dtype;

    @Option(names = "--quantize", paramLabel = "nf4|fp4|int8",
            description = "Quantise the linear weights of the decoder/encoder layers at load, as bitsandbytes does"
                    + " (embeddings and heads stay as stored).")
    String quantize;

    @Option(names = "--double-quant", description = "With --quantize nf4|fp4: quantise the absmax values again.")
    boolean doubleQuant;

    LinearStorage storage() {
        try {
            return LinearStorage.parse(dtype, quantize, doubleQuant);
        } catch (IllegalArgumentException e) {
            throw new DoraException(e.getMessage());
        }
    }
}
