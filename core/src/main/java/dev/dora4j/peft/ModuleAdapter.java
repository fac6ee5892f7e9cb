package dev.dora4j.peft;

import java.util.List;

/**
 * An adapter of some PEFT method on one module of any kind (a linear layer: {@link Adapter}; an embedding table:
 * {@link LoraEmbedding}), as the trainer, checkpoints and adapter files see it: its method and its tensors under
 * their PEFT keys.
 */
public interface ModuleAdapter {
    /** The registered method this adapter implements. */
    PeftMethod method();

    /** Its tensors in the order they are saved: trainable ones and any frozen ones saved with the adapter. */
    List<AdapterTensor> tensors();
}
