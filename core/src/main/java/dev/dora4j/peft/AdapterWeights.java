package dev.dora4j.peft;

/**
 * One module's adapter tensors as stored in a PEFT file.
 *
 * @param loraA     [r, in]
 * @param loraB     [out, r]
 * @param magnitude [out] for DoRA, null for LoRA
 */
public record AdapterWeights(String path, float[] loraA, float[] loraB, float[] magnitude, int rank, int in, int out) {
    public boolean isDora() {
        return magnitude != null;
    }
}
