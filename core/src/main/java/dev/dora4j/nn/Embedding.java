package dev.dora4j.nn;

import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Tape;
import dev.dora4j.autograd.TransformerOps;
import dev.dora4j.tensor.Tensor;

/**
 * A token embedding table {@code W: [vocab, hidden]} (PyTorch's {@code nn.Embedding}), frozen unless fully fine-tuned;
 * an optional adapter takes over the lookup.
 */
public final class Embedding {
    private final String path;
    private final Tensor table;
    private EmbeddingAdapter adapter;
    private boolean merged;

    public Embedding(String path, Tensor table) {
        if (table.rank() != 2) throw new IllegalArgumentException(path + ": embedding table must be 2-D, got " + table);
        this.path = path;
        this.table = table;
    }

    /** The module path as PEFT names it, e.g. {@code model.embed_tokens}. */
    public String path() {
        return path;
    }

    public Tensor table() {
        return table;
    }

    public int vocabSize() {
        return table.dim(0);
    }

    public int hiddenSize() {
        return table.dim(1);
    }

    public EmbeddingAdapter adapter() {
        return adapter;
    }

    public void adapter(EmbeddingAdapter adapter) {
        if (merged) throw new IllegalStateException(path + ": unmerge before replacing the adapter");
        this.adapter = adapter;
    }

    public boolean merged() {
        return merged;
    }

    /** ids: [tokens] -> y: [tokens, hidden]. */
    public Tensor forward(Tape tape, int[] ids) {
        if (adapter == null || merged) return TransformerOps.embedding(tape, ids, table);
        return OpProfile.forward("embedding_adapter", () -> adapter.forward(tape, this, ids));
    }

    public void merge() {
        if (adapter == null || merged) return;
        adapter.merge(this);
        merged = true;
    }

    public void unmerge() {
        if (adapter == null || !merged) return;
        adapter.unmerge(this);
        merged = false;
    }
}
