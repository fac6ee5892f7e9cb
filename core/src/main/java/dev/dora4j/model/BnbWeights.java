package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.kernel.FourBitMatrix;
import dev.dora4j.kernel.Int8Matrix;
import dev.dora4j.kernel.QuantCodes;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.kernel.WeightStorage;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Reads a linear weight that transformers saved quantised by bitsandbytes. 4-bit ({@code Params4bit} +
 * {@code QuantState.as_dict(packed=True)}): {@code <m>.weight} packed codes, {@code .weight.absmax},
 * {@code .weight.quant_map}, with double quantisation {@code .weight.nested_absmax} and
 * {@code .weight.nested_quant_map}, and {@code .weight.quant_state.bitsandbytes__nf4|fp4}, a uint8 tensor holding
 * the JSON of quant_type, blocksize, dtype, shape (and nested_blocksize, nested_dtype, nested_offset). 8-bit
 * ({@code Linear8bitLt}): {@code <m>.weight} int8, {@code <m>.SCB} float32 and {@code <m>.weight_format} 0 ("row").
 * Every size, shape and table is checked against the others; an error names the file and the tensor.
 */
final class BnbWeights {
    private static final String QUANT_STATE = ".quant_state.";
    private static final String BNB_PREFIX = "bitsandbytes__";
    private static final ObjectMapper JSON = new ObjectMapper();

    private BnbWeights() {}

    /** True when {@code name} is stored quantised by bitsandbytes. */
    static boolean isQuantized(ShardedSafetensors st, String name) {
        return st.contains(name + ".absmax") || !quantStates(st, name).isEmpty()
                || (st.contains(name) && st.info(name).dtypeName().equals("I8"));
    }

    /** The JSON of a 4-bit weight's quant_state tensor. */
    static JsonNode quantState(ShardedSafetensors st, String name) {
        List<String> states = quantStates(st, name);
        if (states.size() != 1) throw bad(st, name, "has " + states.size() + " quant_state tensors; bitsandbytes writes one");
        return stateJson(st, states.getFirst());
    }

    /** The [rows, cols] of a quantised weight: the int8 tensor's own, or the one its 4-bit quant_state records. */
    static long[] shape(ShardedSafetensors st, String name) {
        if (st.info(name).dtypeName().equals("I8")) return st.info(name).shape();
        long[] shape = longs(quantState(st, name).get("shape"));
        if (shape.length != 2 || shape[0] <= 0 || shape[1] <= 0 || shape[0] * shape[1] > Integer.MAX_VALUE) {
            throw bad(st, name, "has a quant_state that does not record a 2-D shape");
        }
        return shape;
    }

    /** The tensors that describe the quantisation of {@code name} (absmax, maps, quant_state, SCB, weight_format). */
    static List<String> stateTensors(ShardedSafetensors st, String name) {
        String module = name.substring(0, name.length() - ".weight".length());
        List<String> out = new ArrayList<>();
        for (String n : st.names()) {
            if (n.startsWith(name + ".") || n.equals(module + ".SCB") || n.equals(module + ".weight_format")) out.add(n);
        }
        return out;
    }

    /** The matrix of {@code name} ([rows, cols] as config.json implies); every tensor it reads is added to {@code used}. */
    static WeightMatrix read(ShardedSafetensors st, String name, int rows, int cols, Set<String> used) {
        if (st.info(name).dtypeName().equals("I8")) return readInt8(st, name, rows, cols, used);
        return readFourBit(st, name, rows, cols, used);
    }

    private static List<String> quantStates(ShardedSafetensors st, String name) {
        List<String> out = new ArrayList<>();
        for (String n : st.names()) if (n.startsWith(name + QUANT_STATE)) out.add(n);
        return out;
    }

    private static DoraException bad(ShardedSafetensors st, String tensor, String message) {
        return new DoraException(st.fileOf(tensor).path() + ": tensor '" + tensor + "' " + message);
    }

    private static WeightMatrix readFourBit(ShardedSafetensors st, String name, int rows, int cols, Set<String> used) {
        List<String> states = quantStates(st, name);
        if (states.size() != 1) {
            throw bad(st, name, states.isEmpty() ? "has an absmax but no quant_state.bitsandbytes__nf4|fp4 tensor"
                    : "has " + states.size() + " quant_state tensors " + states + "; bitsandbytes writes one");
        }
        String stateName = states.getFirst();
        String suffix = stateName.substring(name.length() + QUANT_STATE.length());
        String type = suffix.startsWith(BNB_PREFIX) ? suffix.substring(BNB_PREFIX.length()) : suffix;
        WeightStorage storage = switch (type) {
            case "nf4" -> WeightStorage.NF4;
            case "fp4" -> WeightStorage.FP4;
            default -> throw bad(st, stateName, "names quant_type '" + type + "', which is not nf4 or fp4");
        };
        JsonNode state = stateJson(st, stateName);
        String jsonType = state.path("quant_type").asText("");
        if (!jsonType.equals(type)) {
            throw bad(st, stateName, "says quant_type '" + jsonType + "' but is named for '" + type + "'");
        }
        int blockSize = state.path("blocksize").asInt(-1);
        if (!FourBitMatrix.BLOCK_SIZES.contains(blockSize)) {
            throw bad(st, stateName, "says blocksize " + state.get("blocksize") + ", which bitsandbytes does not allow "
                    + FourBitMatrix.BLOCK_SIZES);
        }
        if (BnbConfig.floatType(state.path("dtype").asText("")) == null) {
            throw bad(st, stateName, "says dtype " + state.get("dtype") + ", which is not float32, float16 or bfloat16");
        }
        long[] shape = longs(state.get("shape"));
        if (!Arrays.equals(shape, new long[] {rows, cols})) {
            throw bad(st, stateName, "says shape " + state.get("shape") + " but config.json implies [" + rows + ", " + cols + "]");
        }
        long n = (long) rows * cols, blocks = (n + blockSize - 1) / blockSize;
        byte[] packed = bytes(st, name, used);
        if (packed.length != (n + 1) / 2) {
            throw bad(st, name, "holds " + packed.length + " packed bytes, which does not fit shape [" + rows + ", " + cols
                    + "] (4 bits a value: " + (n + 1) / 2 + " bytes)");
        }
        checkTable(st, name + ".quant_map", QuantCodes.table(storage), type, used);
        String absmaxName = name + ".absmax";
        if (!st.contains(absmaxName)) throw bad(st, name, "has a quant_state but no absmax tensor");
        FourBitMatrix.Nested nested = null;
        float[] absmax = null;
        if (state.has("nested_offset") || st.contains(name + ".nested_absmax")) {
            if (state.path("nested_blocksize").asInt(-1) != FourBitMatrix.NESTED_BLOCK_SIZE
                    || !state.path("nested_dtype").asText("").equals("float32")) {
                throw bad(st, stateName, "says nested_blocksize " + state.get("nested_blocksize") + " and nested_dtype "
                        + state.get("nested_dtype") + "; bitsandbytes double-quantises in blocks of 256 as float32");
            }
            byte[] codes = counted(st, absmaxName, bytes(st, absmaxName, used), blocks, blockSize, shape);
            float[] nestedAbsmax = floats(st, name + ".nested_absmax", used);
            long nestedBlocks = (blocks + FourBitMatrix.NESTED_BLOCK_SIZE - 1) / FourBitMatrix.NESTED_BLOCK_SIZE;
            if (nestedAbsmax.length != nestedBlocks) {
                throw bad(st, name + ".nested_absmax", "has " + nestedAbsmax.length + " values for " + blocks
                        + " absmax codes in blocks of 256 (want " + nestedBlocks + ")");
            }
            float[] map = floats(st, name + ".nested_quant_map", used);
            if (map.length != 256) throw bad(st, name + ".nested_quant_map", "has " + map.length + " values, not 256");
            JsonNode offset = state.get("nested_offset");
            if (offset == null || !offset.isNumber() || !Float.isFinite((float) offset.asDouble())) {
                throw bad(st, stateName, "has no finite nested_offset");
            }
            nested = new FourBitMatrix.Nested(codes, nestedAbsmax, (float) offset.asDouble(), map);
        } else {
            absmax = floats(st, absmaxName, used);
            counted(st, absmaxName, absmax, blocks, blockSize, shape);
        }
        used.add(stateName);
        return new FourBitMatrix(storage, rows, cols, blockSize, packed, absmax, nested);
    }

    private static <T> T counted(ShardedSafetensors st, String absmaxName, T values, long blocks, int blockSize, long[] shape) {
        int count = values instanceof byte[] b ? b.length : ((float[]) values).length;
        if (count != blocks) {
            throw bad(st, absmaxName, "has " + count + " values but blocksize " + blockSize + " over shape "
                    + Arrays.toString(shape) + " makes " + blocks + " blocks");
        }
        if (values instanceof byte[] && !st.info(absmaxName).dtypeName().equals("U8")) {
            throw bad(st, absmaxName, "is " + st.info(absmaxName).dtypeName() + "; a double-quantised absmax is U8");
        }
        return values;
    }

    private static void checkTable(ShardedSafetensors st, String tableName, float[] want, String type, Set<String> used) {
        if (!st.contains(tableName)) return;
        float[] table = floats(st, tableName, used);
        if (!Arrays.equals(table, want)) {
            throw bad(st, tableName, "is not bitsandbytes' " + type + " table " + Arrays.toString(want));
        }
    }

    private static WeightMatrix readInt8(ShardedSafetensors st, String name, int rows, int cols, Set<String> used) {
        String module = name.substring(0, name.length() - ".weight".length());
        TensorInfo info = st.info(name);
        if (!Arrays.equals(info.shape(), new long[] {rows, cols})) {
            throw bad(st, name, "has shape " + Arrays.toString(info.shape()) + " but config.json implies [" + rows + ", "
                    + cols + "]");
        }
        String scbName = module + ".SCB";
        if (!st.contains(scbName)) throw bad(st, name, "is int8 but '" + scbName + "' (its row scales) is missing");
        float[] scb = floats(st, scbName, used);
        if (scb.length != rows) throw bad(st, scbName, "has " + scb.length + " row scales for " + rows + " rows");
        for (int r = 0; r < rows; r++) {
            if (!(scb[r] >= 0) || !Float.isFinite(scb[r])) throw bad(st, scbName, "holds " + scb[r] + " at row " + r);
        }
        String format = module + ".weight_format";
        if (st.contains(format)) {
            byte[] f = bytes(st, format, used);
            if (f.length != 1 || f[0] != 0) throw bad(st, format, "is not 0 (\"row\"), the only layout bitsandbytes loads");
        }
        return new Int8Matrix(bytes(st, name, used), scb, rows, cols);
    }

    private static JsonNode stateJson(ShardedSafetensors st, String stateName) {
        byte[] raw = bytes(st, stateName);
        try {
            JsonNode node = JSON.readTree(new String(raw, StandardCharsets.UTF_8));
            if (node == null || !node.isObject()) throw bad(st, stateName, "does not hold a JSON object");
            return node;
        } catch (IOException e) {
            throw bad(st, stateName, "does not hold valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    private static long[] longs(JsonNode array) {
        if (array == null || !array.isArray()) return new long[0];
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asLong(-1);
        return out;
    }

    private static byte[] bytes(ShardedSafetensors st, String name, Set<String> used) {
        used.add(name);
        return bytes(st, name);
    }

    private static byte[] bytes(ShardedSafetensors st, String name) {
        if (!st.contains(name)) throw new DoraException(st.files().getFirst().path().getParent() + ": tensor '" + name + "' is missing");
        return st.fileOf(name).data(name).toArray(ValueLayout.JAVA_BYTE);
    }

    private static float[] floats(ShardedSafetensors st, String name, Set<String> used) {
        if (!st.contains(name)) throw new DoraException(st.files().getFirst().path().getParent() + ": tensor '" + name + "' is missing");
        if (!st.info(name).dtypeName().equals("F32")) throw bad(st, name, "is " + st.info(name).dtypeName() + "; bitsandbytes stores it as F32");
        used.add(name);
        float[] values = st.readFloats(name);
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) throw bad(st, name, "holds a non-finite value (" + values[i] + ") at index " + i);
        }
        return values;
    }
}
