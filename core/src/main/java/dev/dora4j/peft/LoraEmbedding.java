package dev.dora4j.peft;

import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.EmbeddingAdapter;
import dev.dora4j.tensor.Tensor;
import java.util.List;

/**
 * A LoRA or DoRA adapter on a frozen embedding table {@code W: [vocab, hidden]}, as PEFT's {@code lora.Embedding}
 * and {@code DoraEmbeddingLayer}: {@code lora_embedding_A: [r, vocab]}, {@code lora_embedding_B: [hidden, r]}, no
 * dropout (PEFT applies none to embeddings):
 * <pre>
 * LoRA: y_t = W[id_t] + s · B A[:, id_t]
 * DoRA: y_t = (m/n) ⊙ (W[id_t] + s · B A[:, id_t]),   n[h] = ‖W[:, h] + s (B A)[h, :]‖ over the vocabulary
 * </pre>
 * with the magnitude {@code m: [hidden]} and {@code n} detached in backward, a zero norm giving scale 0. The norm is
 * formed without the [vocab, hidden] update: {@code n[h]² = ‖W[:, h]‖² + 2s⟨B_h, (A·W)[:, h]⟩ + s² B_h (A Aᵀ) B_hᵀ}.
 */
public final class LoraEmbedding implements ModuleAdapter, EmbeddingAdapter {
    private final String path;
    private final Tensor loraA;
    private final Tensor loraB;
    private final Tensor magnitude;
    private final float scaling;
    private double[] columnSquaredNorms;
    private float[] mergedNorm;
    private float[] heldNorm;
    private float[] frozenNorm;

    /** An adapter without a module path (no PEFT keys), for merging and layer tests. */
    public LoraEmbedding(Tensor loraA, Tensor loraB, Tensor magnitude, float scaling) {
        this(null, loraA, loraB, magnitude, scaling);
    }

    /**
     * @param path      the module path, e.g. {@code model.embed_tokens}
     * @param loraA     lora_embedding_A [r, vocab]
     * @param loraB     lora_embedding_B [hidden, r]
     * @param magnitude [hidden] for DoRA, null for LoRA
     */
    public LoraEmbedding(String path, Tensor loraA, Tensor loraB, Tensor magnitude, float scaling) {
        LoraMethod.checkShapes("lora_embedding_A", loraA, "lora_embedding_B", loraB, magnitude);
        this.path = path;
        this.loraA = loraA;
        this.loraB = loraB;
        this.magnitude = magnitude;
        this.scaling = scaling;
    }

    @Override
    public PeftMethod method() {
        return magnitude == null ? LoraMethod.LORA : LoraMethod.DORA;
    }

    /** lora_embedding_A, lora_embedding_B and (DoRA) the magnitude under their PEFT keys; B trains in LoRA+'s B group. */
    @Override
    public List<AdapterTensor> tensors() {
        if (path == null) throw new IllegalStateException("an adapter made without a module path has no PEFT keys");
        return LoraMethod.tensors(PeftKeys.embeddingA(path), loraA, PeftKeys.embeddingB(path), loraB, path, magnitude);
    }

    /**
     * Holds DoRA's norm ‖W + ΔW‖ at its current value, or lets it follow A and B again; with the norm detached in
     * backward this makes the function backward differentiates observable, for checks by finite differences.
     */
    public void holdNorm(Embedding base, boolean hold) {
        heldNorm = hold && magnitude != null ? weightNorm(base.table()) : null;
    }

    @Override
    public Tensor forward(Tape tape, Embedding base, int[] ids) {
        return forward(tape, base.table(), ids);
    }

    @Override
    public void merge(Embedding base) {
        merge(base.table());
    }

    @Override
    public void unmerge(Embedding base) {
        unmerge(base.table());
    }

    public Tensor loraA() {
        return loraA;
    }

    public Tensor loraB() {
        return loraB;
    }

    public Tensor magnitude() {
        return magnitude;
    }

    public int rank() {
        return loraA.dim(0);
    }

    /** ‖W[:, h]‖² over the vocabulary, computed once per table. */
    private double[] columnSquaredNorms(WeightMatrix w) {
        if (columnSquaredNorms == null) {
            int vocab = w.rows(), hidden = w.cols();
            double[] sq = new double[hidden];
            float[] row = new float[hidden];
            for (int v = 0; v < vocab; v++) {
                w.dequantizeRow(v, 0, hidden, row, 0);
                for (int h = 0; h < hidden; h++) sq[h] += (double) row[h] * row[h];
            }
            columnSquaredNorms = sq;
        }
        return columnSquaredNorms;
    }

    /** n[h] = ‖W[:, h] + s (B A)[h, :]‖ for the current A and B. */
    public float[] weightNorm(Tensor table) {
        WeightMatrix w = table.matrix();
        int vocab = w.rows(), hidden = w.cols(), r = rank();
        double[] wSq = columnSquaredNorms(w);
        float[] a = loraA.data(), b = loraB.data();
        float[] aw = new float[r * hidden];                   // A·W: [r, vocab]·[vocab, hidden]
        Gemm.gW(a, 0, w, null, aw, 0, r, false);
        float[] gram = new float[r * r];                      // A·Aᵀ
        Gemm.xWt(a, 0, a, 0, gram, 0, r, vocab, r, false);
        float[] n = new float[hidden];
        for (int h = 0; h < hidden; h++) {
            double cross = 0, quad = 0;
            for (int j = 0; j < r; j++) {
                double bj = b[h * r + j];
                cross += bj * aw[j * hidden + h];
                double gj = 0;
                for (int k = 0; k < r; k++) gj += (double) gram[j * r + k] * b[h * r + k];
                quad += bj * gj;
            }
            n[h] = (float) Math.sqrt(Math.max(0.0, wSq[h] + 2.0 * scaling * cross + (double) scaling * scaling * quad));
        }
        return n;
    }

    /** The norm, computed once while neither A nor B trains (inference: every decoding step would recompute it). */
    private float[] frozenNorm(Tensor table) {
        if (loraA.requiresGrad() || loraB.requiresGrad()) return weightNorm(table);
        if (frozenNorm == null) frozenNorm = weightNorm(table);
        return frozenNorm;
    }

    /** ids: [tokens] -> y: [tokens, hidden]. */
    public Tensor forward(Tape tape, Tensor table, int[] ids) {
        WeightMatrix w = table.matrix();
        int vocab = w.rows(), hidden = w.cols(), r = rank(), tokens = ids.length;
        float[] a = loraA.data(), b = loraB.data();
        float[] y = new float[tokens * hidden];              // W[id_t], then + s·B A[:, id_t]
        float[] u = new float[tokens * r];                    // s · A[:, id_t]
        for (int t = 0; t < tokens; t++) {
            if (ids[t] < 0 || ids[t] >= vocab) {
                throw new IllegalArgumentException("embedding: token id " + ids[t] + " at position " + t + " outside [0, " + vocab + ")");
            }
            w.dequantizeRow(ids[t], 0, hidden, y, t * hidden);
            for (int j = 0; j < r; j++) u[t * r + j] = scaling * a[j * vocab + ids[t]];
        }
        Gemm.xWt(u, 0, b, 0, y, 0, tokens, r, hidden, true);   // + s · u·Bᵀ
        float[] scale = null, norm = null;
        if (magnitude != null) {
            norm = heldNorm != null ? heldNorm : frozenNorm(table);
            scale = new float[hidden];
            for (int h = 0; h < hidden; h++) scale[h] = DoraNorm.scale(magnitude.data()[h], norm[h]);
        }
        // the rows before scaling, which only the magnitude's gradient reads
        float[] unscaled = scale != null && magnitude.requiresGrad() ? y.clone() : null;
        if (scale != null) for (int i = 0; i < y.length; i++) y[i] *= scale[i % hidden];
        Tensor result = tape.needsGrad(loraA, loraB, magnitude) ? Tensor.param(y, tokens, hidden) : Tensor.of(y, tokens, hidden);
        if (result.requiresGrad()) {
            float[] sc = scale, n = norm;
            tape.record(magnitude == null ? "lora_embedding" : "dora_embedding", () -> backward(result.grad(), ids, u, unscaled, sc, n,
                    vocab, hidden, r));
        }
        return result;
    }

    private void backward(float[] gy, int[] ids, float[] u, float[] unscaled, float[] scale, float[] norm, int vocab, int hidden,
            int r) {
        int tokens = ids.length;
        float[] gv = gy;                                       // dL/d(W[id] + s·B A[:, id]) = gy ⊙ (m/n)
        if (scale != null) {
            gv = new float[gy.length];
            for (int i = 0; i < gy.length; i++) gv[i] = gy[i] * scale[i % hidden];
            if (magnitude.requiresGrad()) {
                float[] gm = magnitude.grad();
                for (int t = 0; t < tokens; t++) {
                    for (int h = 0; h < hidden; h++) {
                        if (norm[h] > 0f) gm[h] += gy[t * hidden + h] * unscaled[t * hidden + h] / norm[h];
                    }
                }
            }
        }
        if (loraB.requiresGrad()) Gemm.gtX(gv, 0, u, 0, loraB.grad(), 0, tokens, hidden, r, true);   // gB += gvᵀ·(s·u')
        if (loraA.requiresGrad()) {
            float[] gu = new float[tokens * r];
            Gemm.gW(gv, 0, loraB.data(), 0, gu, 0, tokens, hidden, r, false);                    // gv·B
            float[] ga = loraA.grad();
            for (int t = 0; t < tokens; t++) {
                for (int j = 0; j < r; j++) ga[j * vocab + ids[t]] += scaling * gu[t * r + j];
            }
        }
    }

    /** Folds the adapter into the table: W' = W + s (B A)ᵀ, for DoRA scaled per column by m / ‖W + s (B A)ᵀ‖. */
    public void merge(Tensor table) {
        int vocab = table.dim(0), hidden = table.dim(1);
        float[] w = table.toFloatArray();
        addUpdate(w, scaling, vocab, hidden);
        if (magnitude != null) {
            mergedNorm = columnNorms(w, vocab, hidden);
            for (int v = 0; v < vocab; v++) {
                for (int h = 0; h < hidden; h++) w[v * hidden + h] *= DoraNorm.scale(magnitude.data()[h], mergedNorm[h]);
            }
        }
        table.set(w);
        columnSquaredNorms = null;
        frozenNorm = null;
    }

    /** Undoes {@link #merge} with the norm it used. */
    public void unmerge(Tensor table) {
        int vocab = table.dim(0), hidden = table.dim(1);
        float[] w = table.toFloatArray();
        if (magnitude != null) {
            for (int v = 0; v < vocab; v++) {
                for (int h = 0; h < hidden; h++) {
                    float f = DoraNorm.scale(magnitude.data()[h], mergedNorm[h]);
                    w[v * hidden + h] = f == 0f ? 0f : w[v * hidden + h] / f;
                }
            }
            mergedNorm = null;
        }
        addUpdate(w, -scaling, vocab, hidden);
        table.set(w);
        columnSquaredNorms = null;
        frozenNorm = null;
    }

    // w[v, h] += s · Σ_j A[j, v] B[h, j]: w: [vocab, hidden] += s · Aᵀ·Bᵀ
    private void addUpdate(float[] w, float s, int vocab, int hidden) {
        int r = rank();
        float[] a = loraA.data(), b = loraB.data();
        for (int v = 0; v < vocab; v++) {
            for (int j = 0; j < r; j++) {
                float c = s * a[j * vocab + v];
                if (c == 0f) continue;
                for (int h = 0; h < hidden; h++) w[v * hidden + h] += c * b[h * r + j];
            }
        }
    }

    private static float[] columnNorms(float[] w, int vocab, int hidden) {
        double[] sq = new double[hidden];
        for (int v = 0; v < vocab; v++) for (int h = 0; h < hidden; h++) sq[h] += (double) w[v * hidden + h] * w[v * hidden + h];
        float[] n = new float[hidden];
        for (int h = 0; h < hidden; h++) n[h] = (float) Math.sqrt(sq[h]);
        return n;
    }
}
