package dev.dora4j.testing;

import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterWeights;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.peft.ModuleWeights;
import java.util.LinkedHashMap;
import java.util.Map;

/** LoRA/DoRA adapters and file modules as their concrete types, for tests that look at A, B and the magnitude. */
public final class LoraAdapters {
    private LoraAdapters() {}

    public static Map<String, LoraAdapter> of(Map<String, Adapter> adapters) {
        Map<String, LoraAdapter> out = new LinkedHashMap<>();
        adapters.forEach((k, v) -> out.put(k, (LoraAdapter) v));
        return out;
    }

    public static Map<String, AdapterWeights> weights(Map<String, ModuleWeights> modules) {
        Map<String, AdapterWeights> out = new LinkedHashMap<>();
        modules.forEach((k, v) -> out.put(k, (AdapterWeights) v));
        return out;
    }
}
