package dev.dora4j.peft;

import java.nio.file.Path;
import java.util.List;

/**
 * The fields every PEFT method's {@code adapter_config.json} shares: which modules it targets, their
 * rank, the dropout on the adapter's input, the modules saved whole, and the method it configures.
 */
public interface PeftConfig {
    /** The registered method that {@code peft_type} (and {@code use_dora}) name. */
    PeftMethod method();

    int r();

    /** The rank of the module at {@code path}, honouring a method's per-module patterns. */
    int rankFor(String path);

    /** The dropout probability on the adapter's input ({@code lora_dropout}, {@code vera_dropout}). */
    float dropout();

    /** The target names (list form), empty when {@link #targetModulesRegex()} is set. */
    List<String> targetModules();

    /** {@code target_modules} as one regular expression (or {@code all-linear}), or null. */
    String targetModulesRegex();

    List<String> modulesToSave();

    String taskType();

    String baseModelNameOrPath();

    /** The config as PEFT writes it. */
    String toJsonString();

    /** Reads {@code dir/adapter_config.json} with the reader of the method its {@code peft_type} names. */
    static PeftConfig read(Path dir) {
        return PeftMethods.readConfig(dir);
    }
}
