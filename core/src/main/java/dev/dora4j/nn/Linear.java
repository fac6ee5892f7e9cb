package dev.dora4j.nn;

import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.Tape;
import dev.dora4j.tensor.Tensor;

/**
 * A linear layer {@code y = x·Wᵀ + b} with the PyTorch layout {@code W: [out, in]}. The weight is
 * frozen unless fully fine-tuned; an optional adapter takes over the forward pass.
 */
public final class Linear {
    private final String path;
    private final Tensor weight;
    private final Tensor bias;
    private LinearAdapter adapter;
    private boolean merged;

    public Linear(String path, Tensor weight, Tensor bias) {
        if (weight.rank() != 2) throw new IllegalArgumentException(path + ": linear weight must be 2-D, got " + weight);
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != weight.dim(0))) {
            throw new IllegalArgumentException(path + ": bias " + bias + " does not match weight " + weight);
        }
        this.path = path;
        this.weight = weight;
        this.bias = bias;
    }

    /** The module path as PEFT names it, e.g. {@code model.layers.0.self_attn.q_proj}. */
    public String path() {
        return path;
    }

    public Tensor weight() {
        return weight;
    }

    public Tensor bias() {
        return bias;
    }

    public int inFeatures() {
        return weight.dim(1);
    }

    public int outFeatures() {
        return weight.dim(0);
    }

    public LinearAdapter adapter() {
        return adapter;
    }

    public void adapter(LinearAdapter adapter) {
        if (merged) throw new IllegalStateException(path + ": unmerge before replacing the adapter");
        this.adapter = adapter;
    }

    public boolean merged() {
        return merged;
    }

    /** x: [tokens, in] -> y: [tokens, out]. */
    public Tensor forward(Tape tape, Tensor x) {
        if (adapter == null || merged) return baseForward(tape, x);
        return adapter.forward(tape, this, x);
    }

    /** {@link #forward}, timed by {@link OpProfile} as "linear" or, with an adapter, under its op name. */
    public Tensor profiledForward(Tape tape, Tensor x) {
        String name = adapter == null || merged ? "linear" : adapter.opName();
        return OpProfile.forward(name, () -> forward(tape, x));
    }

    /** The frozen layer alone, ignoring any adapter. */
    public Tensor baseForward(Tape tape, Tensor x) {
        return Ops.linear(tape, x, weight, bias);
    }

    public void merge() {
        if (adapter == null || merged) return;
        adapter.merge(this);
        merged = true;
    }

    public void unmerge() {
        if (!merged) return;
        adapter.unmerge(this);
        merged = false;
    }
}
