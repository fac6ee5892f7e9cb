package dev.dora4j.peft;

/** Tensor names in PEFT's {@code adapter_model.safetensors}, as {@code save_pretrained} writes them. */
public final class PeftKeys {
    public static final String PREFIX = "base_model.model.";
    public static final String LORA_A = ".lora_A.weight";
    public static final String LORA_B = ".lora_B.weight";
    public static final String MAGNITUDE = ".lora_magnitude_vector";
    /** The magnitude's key as some PEFT versions wrote it, accepted on read. */
    public static final String MAGNITUDE_WITH_WEIGHT = ".lora_magnitude_vector.weight";

    private PeftKeys() {}

    public static String loraA(String path) {
        return PREFIX + path + LORA_A;
    }

    public static String loraB(String path) {
        return PREFIX + path + LORA_B;
    }

    public static String magnitude(String path) {
        return PREFIX + path + MAGNITUDE;
    }
}
