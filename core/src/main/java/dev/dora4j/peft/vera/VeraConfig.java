package dev.dora4j.peft.vera;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.peft.ConfigFields;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftMethod;
import java.util.List;

/**
 * A PEFT {@code VeraConfig} ({@code peft_type: "VERA"}), with PEFT's names and defaults; {@code use_dora: true}
 * makes it DVoRA, this project's extension. Fields it does not model are kept and written back.
 *
 * @param projectionPrngKey PEFT's {@code projection_prng_key}, the seed of the shared projections
 * @param dInitial          PEFT's {@code d_initial}, the initial value of every λ_d
 */
public record VeraConfig(
        int r,
        List<String> targetModules,
        String targetModulesRegex,
        long projectionPrngKey,
        float veraDropout,
        float dInitial,
        String bias,
        List<String> modulesToSave,
        String taskType,
        String baseModelNameOrPath,
        boolean useDora,
        ObjectNode extra) implements PeftConfig {

    public VeraConfig {
        targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        bias = bias == null ? "none" : bias;
        extra = extra == null ? ConfigFields.JSON.createObjectNode() : extra.deepCopy();
    }

    static VeraConfig parse(JsonNode root, String source) {
        if (!ConfigFields.bool(root, "save_projection", source, true)) {
            throw new DoraException(source + ": save_projection is false, so the projections vera_A/vera_B would have to be"
                    + " regenerated from projection_prng_key with torch's random generator, which dora4j does not reproduce;"
                    + " save the adapter with save_projection=True");
        }
        if (ConfigFields.bool(root, "fan_in_fan_out", source)) {
            throw new DoraException(source + ": fan_in_fan_out is true (GPT-2 Conv1D layers), which dora4j does not support");
        }
        ConfigFields.Targets targets = ConfigFields.targets(root, source);
        return new VeraConfig(ConfigFields.rank(root, "r", source, 256), targets.names(), targets.regex(),
                ConfigFields.longInteger(root, "projection_prng_key", source, 0L),
                ConfigFields.dropout(root, "vera_dropout", source),
                ConfigFields.number(root, "d_initial", source, 0.1f),
                ConfigFields.text(root, "bias", source, "none"), ConfigFields.strings(root, "modules_to_save"),
                ConfigFields.text(root, "task_type", source, null), ConfigFields.text(root, "base_model_name_or_path", source, null),
                ConfigFields.bool(root, "use_dora", source), (ObjectNode) root);
    }

    @Override
    public PeftMethod method() {
        return useDora ? VeraMethod.DVORA : VeraMethod.VERA;
    }

    @Override
    public int rankFor(String path) {
        return r;
    }

    @Override
    public float dropout() {
        return veraDropout;
    }

    /** The JSON that PEFT writes for a VeraConfig (keys sorted); DVoRA adds {@code use_dora: true}. */
    public ObjectNode toJson() {
        ObjectNode o = ConfigFields.JSON.createObjectNode();
        o.putNull("auto_mapping");
        o.put("base_model_name_or_path", baseModelNameOrPath);
        o.put("bias", bias);
        o.put("d_initial", ConfigFields.cleanNumber(dInitial));
        o.put("fan_in_fan_out", false);
        o.put("inference_mode", true);
        o.put("init_weights", true);
        o.putNull("layers_pattern");
        o.putNull("layers_to_transform");
        if (modulesToSave.isEmpty()) o.putNull("modules_to_save");
        else modulesToSave.forEach(o.putArray("modules_to_save")::add);
        o.put("peft_type", "VERA");
        o.put("projection_prng_key", projectionPrngKey);
        o.put("r", r);
        o.putNull("revision");
        o.put("save_projection", true);
        if (targetModulesRegex != null) o.put("target_modules", targetModulesRegex);
        else targetModules.forEach(o.putArray("target_modules")::add);
        o.put("task_type", taskType);
        if (useDora) o.put("use_dora", true);
        o.put("vera_dropout", ConfigFields.cleanNumber(veraDropout));
        return ConfigFields.sortedOver(extra, o);
    }

    @Override
    public String toJsonString() {
        return ConfigFields.toJsonString(toJson());
    }
}
