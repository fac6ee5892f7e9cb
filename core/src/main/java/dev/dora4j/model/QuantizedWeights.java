package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.kernel.WeightStorage;
import java.util.ArrayList;
import java.util.List;

/** The bitsandbytes-quantised weights of a checkpoint, as {@code inspect} reports them. */
public final class QuantizedWeights {
    /**
     * One quantised weight.
     *
     * @param name         the weight's tensor name
     * @param storage      INT8, NF4 or FP4
     * @param shape        [rows, cols] of the weight it stands for
     * @param blockSize    values per absmax (0 for int8, whose scale is per row)
     * @param doubleQuant  whether the absmax values are themselves quantised
     * @param bytes        the codes plus every quant-state tensor
     * @param stateTensors the names of those quant-state tensors
     */
    public record Entry(String name, WeightStorage storage, long[] shape, int blockSize, boolean doubleQuant, long bytes,
                        List<String> stateTensors) {
        /** Bits the weight takes per value, scales and tables included. */
        public double bitsPerWeight() {
            return 8.0 * bytes / (shape[0] * shape[1]);
        }
    }

    private QuantizedWeights() {}

    /** Every quantised weight of {@code st}, in tensor order. */
    public static List<Entry> of(ShardedSafetensors st) {
        List<Entry> out = new ArrayList<>();
        for (String name : st.names()) {
            if (!name.endsWith(".weight") || !BnbWeights.isQuantized(st, name)) continue;
            List<String> state = BnbWeights.stateTensors(st, name);
            long bytes = st.info(name).byteSize();
            for (String s : state) bytes += st.info(s).byteSize();
            long[] shape = BnbWeights.shape(st, name);
            if (st.info(name).dtypeName().equals("I8")) {
                out.add(new Entry(name, WeightStorage.INT8, shape, 0, false, bytes, state));
                continue;
            }
            JsonNode json = BnbWeights.quantState(st, name);
            WeightStorage type = json.path("quant_type").asText("").equals("fp4") ? WeightStorage.FP4 : WeightStorage.NF4;
            out.add(new Entry(name, type, shape, json.path("blocksize").asInt(), json.has("nested_offset"), bytes, state));
        }
        return out;
    }
}
