package dev.dora4j.peft;

import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;

/**
 * One module's LoRA/DoRA tensors as stored in a PEFT file.
 *
 * @param loraA     [r, in]
 * @param loraB     [out, r]
 * @param magnitude [out] for DoRA, null for LoRA
 * @param scaling   alpha / r, or alpha / sqrt(r) with rsLoRA, in double precision
 */
public record AdapterWeights(String path, float[] loraA, float[] loraB, float[] magnitude, int rank, int in, int out,
        double scaling) implements ModuleWeights {
    public boolean isDora() {
        return magnitude != null;
    }

    @Override
    public boolean fits(int out, int in) {
        return out == this.out && in == this.in;
    }

    @Override
    public String shapes() {
        return shapesFitting(out, in);
    }

    @Override
    public String shapesFitting(int out, int in) {
        return Arrays.toString(new int[] {rank, in}) + " and lora_B " + Arrays.toString(new int[] {out, rank});
    }

    /**
     * Row {@code o} merged exactly as PEFT merges it, in double precision: LoRA {@code W + s·B·A}; DoRA
     * {@code (m / ‖W + s·B·A‖) ⊙ (W + s·B·A)}, a row of zero norm scaled by 0.
     */
    @Override
    public void mergeRow(int o, double[] row) {
        for (int j = 0; j < rank; j++) {
            double c = scaling * loraB[o * rank + j];
            if (c == 0) continue;
            for (int i = 0, at = j * in; i < in; i++) row[i] += c * loraA[at + i];
        }
        if (magnitude != null) scaleRow(row, in, magnitude[o]);
    }

    /** row ← (m / ‖row‖) ⊙ row, by 0 when the row's norm is 0: DoRA's magnitude applied to one merged row. */
    public static void scaleRow(double[] row, int in, double magnitude) {
        double sq = 0;
        for (int i = 0; i < in; i++) sq += row[i] * row[i];
        double norm = Math.sqrt(sq);
        double scale = norm > 0 ? magnitude / norm : 0.0;
        for (int i = 0; i < in; i++) row[i] *= scale;
    }

    /** The merged weight as {@link LoraAdapter#merge} forms it. */
    @Override
    public float[] merge(float[] w, int rows, int cols) {
        Linear layer = new Linear(path, Tensor.of(w.clone(), rows, cols), null);
        layer.adapter(new LoraAdapter(path, Tensor.of(loraA, rank, in), Tensor.of(loraB, out, rank),
                magnitude == null ? null : Tensor.of(magnitude, out), (float) scaling, null));
        layer.merge();
        return layer.weight().toFloatArray();
    }
}
