package dev.dora4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import dev.dora4j.peft.vera.VeraMethod;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** The registry of PEFT methods: {@code peft_type} (+ {@code use_dora}) or a method's name to its {@link PeftMethod}. */
public final class PeftMethods {
    private static final List<PeftMethod> ALL = List.of(
            LoraMethod.LORA, LoraMethod.DORA,
            VeraMethod.VERA, VeraMethod.DVORA);

    private PeftMethods() {}

    public static List<PeftMethod> all() {
        return ALL;
    }

    /** The method {@code train --method} names, or an error listing the names. */
    public static PeftMethod named(String id) {
        for (PeftMethod m : ALL) if (m.id().equals(id)) return m;
        throw new IllegalArgumentException("no adapter method '" + id + "' (one of " + ids() + ")");
    }

    /** Whether {@code id} names a registered method. */
    public static boolean isMethod(String id) {
        return ALL.stream().anyMatch(m -> m.id().equals(id));
    }

    /** The names of the registered methods, comma-separated. */
    public static String ids() {
        return ALL.stream().map(PeftMethod::id).collect(Collectors.joining(", "));
    }

    public static PeftMethod of(String peftType, boolean useDora, String source) {
        for (PeftMethod m : ALL) if (m.peftType().equals(peftType) && m.useDora() == useDora) return m;
        String types = ALL.stream().map(PeftMethod::peftType).distinct().collect(Collectors.joining(" or "));
        if (ALL.stream().noneMatch(m -> m.peftType().equals(peftType))) {
            throw new DoraException(source + ": peft_type '" + peftType + "' is not supported (only " + types
                    + ", with or without use_dora)");
        }
        throw new DoraException(source + ": peft_type '" + peftType + "' with use_dora " + useDora + " is not supported");
    }

    /** Reads {@code dir/adapter_config.json} with the reader of the method it names. */
    static PeftConfig readConfig(Path dir) {
        JsonNode root = ConfigFields.readTree(dir);
        String source = dir.resolve(AdapterConfig.FILE_NAME).toString();
        return parse(root, source);
    }

    /** Parses a config object with the reader of the method it names; {@code source} names it in errors. */
    public static PeftConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) throw new DoraException(source + ": expected a JSON object");
        String peftType = ConfigFields.text(root, "peft_type", source, null);
        if (peftType == null) throw new DoraException(source + ": missing key 'peft_type'");
        return of(peftType, ConfigFields.bool(root, "use_dora", source), source).parseConfig(root, source);
    }
}
