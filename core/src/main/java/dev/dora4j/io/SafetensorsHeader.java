package dev.dora4j.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file: parsing with full validation, and encoding for the writer.
 *
 * @param metadata the {@code __metadata__} map (empty when absent), in file order
 * @param tensors  the tensor entries sorted by begin offset (ties keep header order)
 */
record SafetensorsHeader(Map<String, String> metadata, List<TensorInfo> tensors) {
    static final String METADATA_KEY = "__metadata__";
    /** The largest header accepted, as in the reference implementation. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final int ALIGNMENT = 8;

    /**
     * Parses and validates a header.
     *
     * @param file       names the file in error messages
     * @param json       the header bytes (UTF-8 JSON, possibly padded with spaces)
     * @param dataLength bytes available after the header; every tensor must lie within them
     */
    static SafetensorsHeader parse(String file, byte[] json, long dataLength) {
        JsonNode root = StrictJson.parse(file + ": header", decodeUtf8(file, json));
        if (!root.isObject()) {
            throw new DoraException(file + ": header is not a JSON object (found " + StrictJson.typeOf(root) + ")");
        }
        Map<String, String> metadata = Map.of();
        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                tensors.add(parseTensor(file, field.getKey(), field.getValue(), dataLength));
            }
        }
        tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        checkNoOverlap(file, tensors);
        return new SafetensorsHeader(metadata, Collections.unmodifiableList(tensors));
    }

    private static String decodeUtf8(String file, byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            throw new DoraException(file + ": header is not valid UTF-8 (bad byte sequence at header offset "
                    + in.position() + ")");
        }
        return out.flip().toString();
    }

    private static Map<String, String> parseMetadata(String file, JsonNode node) {
        String where = file + ": '" + METADATA_KEY + "'";
        if (!node.isObject()) {
            throw new DoraException(where + " must be an object of string values (found "
                    + StrictJson.typeOf(node) + ")");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new DoraException(where + " key '" + entry.getKey() + "' must have a string value (found "
                        + StrictJson.typeOf(entry.getValue()) + ")");
            }
            metadata.put(entry.getKey(), entry.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static TensorInfo parseTensor(String file, String name, JsonNode node, long dataLength) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new DoraException(where + ": entry must be an object (found " + StrictJson.typeOf(node) + ")");
        }
        JsonNode dtypeNode = required(where, node, "dtype");
        if (!dtypeNode.isTextual()) {
            throw new DoraException(where + ": 'dtype' must be a string (found " + StrictJson.typeOf(dtypeNode) + ")");
        }
        String dtypeName = dtypeNode.textValue();
        int elementBytes = SafetensorsDTypes.elementBytes(dtypeName);
        if (elementBytes < 0) {
            throw new DoraException(where + ": unsupported dtype '" + dtypeName + "' ("
                    + SafetensorsDTypes.describeSupported() + ")");
        }
        long[] shape = longArray(where, node, "shape", -1);
        long[] offsets = longArray(where, node, "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        String range = "[" + begin + ", " + end + ")";
        if (end < begin) {
            throw new DoraException(where + ": data offsets " + range + " end before they begin");
        }
        long expectedBytes = byteCount(where, dtypeName, shape, elementBytes);
        if (end - begin != expectedBytes) {
            throw new DoraException(where + ": data offsets " + range + " do not match dtype " + dtypeName
                    + " and shape " + Arrays.toString(shape) + " (" + expectedBytes + " bytes)");
        }
        if (end > dataLength) {
            throw new DoraException(where + ": data offsets " + range + " run past the end of the data ("
                    + dataLength + " bytes after the header)");
        }
        return new TensorInfo(name, DType.fromSafetensors(dtypeName), dtypeName, shape, begin, end);
    }

    private static JsonNode required(String where, JsonNode entry, String key) {
        JsonNode value = entry.get(key);
        if (value == null) {
            throw new DoraException(where + ": missing '" + key + "'");
        }
        return value;
    }

    /** Reads an array of non-negative integers; {@code length} < 0 accepts any length. */
    private static long[] longArray(String where, JsonNode entry, String key, int length) {
        JsonNode array = required(where, entry, key);
        String expected = length < 0 ? "an array of non-negative integers"
                : "an array of " + length + " non-negative integers";
        if (!array.isArray() || (length >= 0 && array.size() != length)) {
            throw new DoraException(where + ": '" + key + "' must be " + expected + " (found "
                    + (array.isArray() ? "an array of " + array.size() : StrictJson.typeOf(array)) + ")");
        }
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode item = array.get(i);
            if (!item.isIntegralNumber()) {
                throw new DoraException(where + ": '" + key + "' must be " + expected + " (found " + item + ")");
            }
            if (!item.canConvertToLong()) {
                throw new DoraException(where + ": '" + key + "' value " + item + " is out of range");
            }
            values[i] = item.longValue();
            if (values[i] < 0) {
                throw new DoraException(where + ": '" + key + "' has a negative value " + values[i]);
            }
        }
        return values;
    }

    private static long byteCount(String where, String dtypeName, long[] shape, int elementBytes) {
        try {
            long count = elementBytes;
            for (long dim : shape) {
                count = Math.multiplyExact(count, dim);
            }
            return count;
        } catch (ArithmeticException e) {
            throw new DoraException(where + ": shape " + Arrays.toString(shape) + " of dtype " + dtypeName
                    + " overflows a 64-bit byte count");
        }
    }

    private static void checkNoOverlap(String file, List<TensorInfo> sortedByBegin) {
        TensorInfo furthest = null;
        for (TensorInfo tensor : sortedByBegin) {
            if (tensor.byteSize() == 0) {
                continue;
            }
            if (furthest != null && tensor.begin() < furthest.end()) {
                throw new DoraException(file + ": tensors '" + furthest.name() + "' [" + furthest.begin() + ", "
                        + furthest.end() + ") and '" + tensor.name() + "' [" + tensor.begin() + ", " + tensor.end()
                        + ") overlap");
            }
            if (furthest == null || tensor.end() > furthest.end()) {
                furthest = tensor;
            }
        }
    }

    /**
     * Encodes a header as the reference implementation does: compact JSON, {@code __metadata__} first when
     * non-empty, tensors in the given order, padded with spaces to a multiple of {@value #ALIGNMENT} bytes.
     */
    static byte[] encode(Map<String, String> metadata, List<TensorInfo> tensors) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JsonGenerator json = new JsonFactory().createGenerator(bytes)) {
            json.writeStartObject();
            if (!metadata.isEmpty()) {
                json.writeObjectFieldStart(METADATA_KEY);
                for (Map.Entry<String, String> entry : metadata.entrySet()) {
                    json.writeStringField(entry.getKey(), entry.getValue());
                }
                json.writeEndObject();
            }
            for (TensorInfo tensor : tensors) {
                json.writeObjectFieldStart(tensor.name());
                json.writeStringField("dtype", tensor.dtypeName());
                json.writeArrayFieldStart("shape");
                for (long dim : tensor.shape()) {
                    json.writeNumber(dim);
                }
                json.writeEndArray();
                json.writeArrayFieldStart("data_offsets");
                json.writeNumber(tensor.begin());
                json.writeNumber(tensor.end());
                json.writeEndArray();
                json.writeEndObject();
            }
            json.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int padding = (ALIGNMENT - bytes.size() % ALIGNMENT) % ALIGNMENT;
        for (int i = 0; i < padding; i++) {
            bytes.write(' ');
        }
        return bytes.toByteArray();
    }
}
