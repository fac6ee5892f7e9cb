package dev.dora4j.peft;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;

/**
 * One embedding module's LoRA/DoRA tensors as PEFT stores them, with the copy of the base table PEFT may save beside
 * them ({@code <path>.base_layer.weight}), which must match the model's table.
 *
 * @param loraA     lora_embedding_A [r, vocab]
 * @param loraB     lora_embedding_B [hidden, r]
 * @param magnitude [hidden] for DoRA, null for LoRA
 * @param baseCopy  the saved base table [vocab, hidden], or null
 */
public record EmbeddingWeights(String path, float[] loraA, float[] loraB, float[] magnitude, int rank, int vocab, int hidden,
        float scaling, float[] baseCopy) implements ModuleWeights {
    @Override
    public Kind kind() {
        return Kind.EMBEDDING;
    }

    @Override
    public boolean fits(int out, int in) {
        return out == vocab && in == hidden;
    }

    @Override
    public String shapes() {
        return shapesFitting(vocab, hidden);
    }

    @Override
    public String shapesFitting(int out, int in) {
        return Arrays.toString(new int[] {rank, out}) + " and lora_embedding_B " + Arrays.toString(new int[] {in, rank});
    }

    /** Row {@code v} of W + s (B A)ᵀ; DoRA's column scale needs the whole table, so analysis takes LoRA only. */
    @Override
    public void mergeRow(int v, double[] row) {
        if (magnitude != null) {
            throw new DoraException(PeftKeys.PREFIX + path + ": the weight-decomposition analysis of a DoRA embedding is not supported");
        }
        for (int j = 0; j < rank; j++) {
            double c = (double) scaling * loraA[j * vocab + v];
            for (int h = 0; h < hidden; h++) row[h] += c * loraB[h * rank + j];
        }
    }

    /** Checks the base table copy saved beside the adapter (if any) against the model's table {@code w}. */
    public void checkBase(float[] w) {
        if (baseCopy != null && !Arrays.equals(baseCopy, w)) {
            int at = Arrays.mismatch(baseCopy, w);
            throw new DoraException(PeftKeys.PREFIX + path + ".base_layer.weight: the base table saved with the adapter differs"
                    + " from the model's at index " + at + " (" + baseCopy[at] + " vs " + w[at] + "): the adapter was trained on another"
                    + " base model");
        }
    }

    /** The table merged as PEFT merges it, after checking the saved base copy against {@code w}. */
    @Override
    public float[] merge(float[] w, int rows, int cols) {
        checkBase(w);
        Tensor table = Tensor.of(w.clone(), rows, cols);
        new LoraEmbedding(Tensor.of(loraA, rank, vocab), Tensor.of(loraB, hidden, rank),
                magnitude == null ? null : Tensor.of(magnitude, hidden), scaling).merge(table);
        return table.toFloatArray();
    }
}
