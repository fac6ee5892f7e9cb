package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import dev.dora4j.kernel.WeightStorage;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code quantization_config} of a model saved by transformers with bitsandbytes ({@code BitsAndBytesConfig}):
 * which storage the quantised linears have and the compute dtype a merge writes by default. A checkpoint quantised by
 * another method (GPTQ, AWQ, HQQ, ...) is refused by name.
 *
 * @param storage      INT8 ({@code load_in_8bit}) or the 4-bit type ({@code bnb_4bit_quant_type})
 * @param doubleQuant  {@code bnb_4bit_use_double_quant}
 * @param computeDtype {@code bnb_4bit_compute_dtype} as a float storage (F32 when absent)
 */
public record BnbConfig(WeightStorage storage, boolean doubleQuant, WeightStorage computeDtype) {
    /** The config of {@code dir/config.json}, or null when the model is not quantised. */
    public static BnbConfig read(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) return null;
        return parse(ConfigFiles.readTree(file).get("quantization_config"), file.toString());
    }

    static BnbConfig parse(JsonNode q, String file) {
        if (q == null || q.isNull()) return null;
        String where = file + ": quantization_config";
        if (!q.isObject()) throw new DoraException(where + " must be an object");
        String method = ConfigFiles.optionalText(q, "quant_method", where, "bitsandbytes");
        if (!method.equals("bitsandbytes")) {
            throw new DoraException(where + ": quant_method '" + method + "' is not supported; dora4j reads bitsandbytes"
                    + " checkpoints (load_in_4bit nf4/fp4, load_in_8bit) and unquantised F32/F16/BF16 models");
        }
        boolean four = q.path("load_in_4bit").asBoolean(false), eight = q.path("load_in_8bit").asBoolean(false);
        if (four == eight) {
            throw new DoraException(where + ": exactly one of load_in_4bit and load_in_8bit must be true");
        }
        WeightStorage compute = dtype(ConfigFiles.optionalText(q, "bnb_4bit_compute_dtype", where, "float32"),
                where + ": bnb_4bit_compute_dtype");
        if (eight) return new BnbConfig(WeightStorage.INT8, false, compute);
        String type = ConfigFiles.optionalText(q, "bnb_4bit_quant_type", where, "fp4");
        WeightStorage storage = switch (type) {
            case "nf4" -> WeightStorage.NF4;
            case "fp4" -> WeightStorage.FP4;
            default -> throw new DoraException(where + ": bnb_4bit_quant_type '" + type + "' is not nf4 or fp4");
        };
        return new BnbConfig(storage, q.path("bnb_4bit_use_double_quant").asBoolean(false), compute);
    }

    /** A torch dtype name ("float32", "torch.bfloat16", ...) as a float storage. */
    static WeightStorage dtype(String name, String where) {
        WeightStorage s = floatType(name);
        if (s == null) throw new DoraException(where + " '" + name + "' is not float32, float16 or bfloat16");
        return s;
    }

    /** A torch float dtype name as a storage, or null for any other name. */
    static WeightStorage floatType(String name) {
        return switch (name.startsWith("torch.") ? name.substring(6) : name) {
            case "float32", "float" -> WeightStorage.F32;
            case "bfloat16" -> WeightStorage.BF16;
            case "float16", "half" -> WeightStorage.F16;
            default -> null;
        };
    }
}
