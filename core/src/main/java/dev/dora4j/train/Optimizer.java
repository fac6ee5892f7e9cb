package dev.dora4j.train;

import java.util.List;
import java.util.Map;

/** Updates parameters from their gradients; its state can be saved and restored exactly. */
public interface Optimizer {
    /** Applies one update with base learning rate {@code lr} (each parameter scales it by its lrScale). */
    void step(float lr);

    List<Parameter> parameters();

    /** The optimizer's tensors by name (e.g. {@code <param>.exp_avg}) for a checkpoint. */
    Map<String, float[]> state();

    /** How many steps have been applied. */
    long steps();

    /** Restores what {@link #state()} and {@link #steps()} returned. */
    void load(Map<String, float[]> state, long steps);

    static Optimizer create(String kind, List<Parameter> params, float weightDecay) {
        return switch (kind) {
            case "adamw" -> new AdamW(params, 0.9f, 0.999f, 1e-8f, weightDecay);
            case "sgd" -> new Sgd(params, weightDecay);
            default -> throw new IllegalArgumentException("unknown optimizer '" + kind + "' (adamw, sgd)");
        };
    }
}
