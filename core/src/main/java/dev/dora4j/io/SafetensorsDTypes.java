package dev.dora4j.io;

import dev.dora4j.tensor.DType;
import java.util.List;

/**
 * The safetensors element types this package accepts. F32, F16 and BF16 map to {@link DType} and can be read
 * as floats. The other byte-sized types of the format (integers, booleans, F64 and the two 8-bit floats) are
 * "stored-only": such tensors can be listed, sliced and copied raw, but not read as floats. Sub-byte types
 * (F4, F6_*) and unknown names are refused.
 */
final class SafetensorsDTypes {
    static final List<String> FLOAT_NAMES = List.of("F32", "F16", "BF16");
    static final List<String> STORED_ONLY_NAMES =
            List.of("F64", "I64", "U64", "I32", "U32", "I16", "U16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2");

    private SafetensorsDTypes() {
    }

    /** Bytes per element of the named type, or -1 when the name is not supported. */
    static int elementBytes(String dtypeName) {
        return switch (dtypeName) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> -1;
        };
    }

    static String describeSupported() {
        return "readable as floats: " + String.join(", ", FLOAT_NAMES)
                + "; stored-only: " + String.join(", ", STORED_ONLY_NAMES);
    }
}
