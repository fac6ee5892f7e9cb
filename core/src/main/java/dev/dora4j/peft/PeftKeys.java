package dev.dora4j.peft;

/** Tensor names in PEFT's {@code adapter_model.safetensors}, as {@code save_pretrained} writes them. */
public final class PeftKeys {
    public static final String PREFIX = "base_model.model.";
    public static final String LORA_A = ".lora_A.weight";
    public static final String LORA_B = ".lora_B.weight";
    public static final String MAGNITUDE = ".lora_magnitude_vector";
    /** The magnitude's key as some PEFT versions wrote it, accepted on read. */
    public static final String MAGNITUDE_WITH_WEIGHT = ".lora_magnitude_vector.weight";

    /** PEFT's embedding adapters: parameters, so no {@code .weight} suffix. */
    public static final String EMBEDDING_A = ".lora_embedding_A";
    public static final String EMBEDDING_B = ".lora_embedding_B";
    /** The copy of an adapted embedding's base table that PEFT may save beside the adapter. */
    public static final String BASE_LAYER_WEIGHT = ".base_layer.weight";

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

    public static String embeddingA(String path) {
        return PREFIX + path + EMBEDDING_A;
    }

    public static String embeddingB(String path) {
        return PREFIX + path + EMBEDDING_B;
    }
}
