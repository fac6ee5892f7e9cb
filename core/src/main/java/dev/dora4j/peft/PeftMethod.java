package dev.dora4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.Linear;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * A PEFT method as the registry ({@link PeftMethods}) knows it: the {@code peft_type} and {@code use_dora}
 * that name it in {@code adapter_config.json}, its config reader, the factory of fresh adapters, and
 * the reader of its tensors from a file. Compare PEFT's {@code register_peft_method}.
 */
public interface PeftMethod {
    /** The name {@code train --method} takes: lora, dora, vera, dvora. */
    String id();

    /** {@code peft_type} in adapter_config.json. */
    String peftType();

    /** {@code use_dora} in adapter_config.json. */
    boolean useDora();

    /** The config of {@code root}, whose {@code peft_type} and {@code use_dora} name this method; errors name {@code source}. */
    PeftConfig parseConfig(JsonNode root, String source);

    /** A fresh config from the options of a training run. */
    PeftConfig newConfig(AdapterSettings settings);

    /** Fresh trainable adapters on the targeted layers (path → layer, in model order), initialised as PEFT does. */
    Map<String, Adapter> create(PeftConfig config, Map<String, Linear> targets, long seed);

    /**
     * Fresh trainable adapters on targeted embedding tables (path → table, in model order), initialised as PEFT does;
     * a method without embedding adapters refuses, naming the first table.
     */
    default Map<String, ModuleAdapter> createEmbeddings(PeftConfig config, Map<String, Embedding> targets, long seed) {
        throw noEmbeddings(targets.keySet().iterator().next());
    }

    /** Embedding adapters made of modules read from a file (shapes already checked), trainable or frozen. */
    default Map<String, ModuleAdapter> attachEmbeddings(PeftConfig config, Map<String, ModuleWeights> modules,
            Map<String, Embedding> tables, boolean trainable) {
        throw noEmbeddings(tables.keySet().iterator().next());
    }

    private DoraException noEmbeddings(String path) {
        return new DoraException(displayName() + " adapts linear layers only; target_modules selects the embedding '" + path
                + "' (PEFT has no " + displayName() + " layer for nn.Embedding)");
    }

    /** Keys of tensors that all modules share, stored outside {@code base_model.model.} (VeRA's projections). */
    default Set<String> sharedKeys() {
        return Set.of();
    }

    /**
     * Groups a file's adapter tensors ({@code modules_to_save} taken out) by module path, checking their shapes
     * against each other and the config; a tensor the method does not know is an error naming {@code file}.
     */
    Map<String, ModuleWeights> readModules(PeftConfig config, Map<String, FileTensor> tensors, Path file);

    /**
     * Adapters made of modules read from a file, one per layer (same keys, shapes already checked): trainable ones get
     * the config's dropout, frozen (inference) ones none.
     */
    Map<String, Adapter> attach(PeftConfig config, Map<String, ModuleWeights> modules, Map<String, Linear> layers,
            boolean trainable, long seed);

    /** How people write the method: LoRA, DoRA, VeRA, DVoRA. */
    String displayName();

    /** The tensor that errors about a whole module name, e.g. its {@code lora_A}. */
    String moduleKey(String path);
}
