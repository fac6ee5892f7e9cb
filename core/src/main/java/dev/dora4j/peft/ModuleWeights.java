package dev.dora4j.peft;

/**
 * One module's adapter tensors as read from a file, before they are attached to a layer. It can
 * form any row of the merged weight in double precision, which the weight-decomposition analysis reads.
 */
public interface ModuleWeights {
    /** What kind of base module the tensors adapt. */
    enum Kind {
        LINEAR, EMBEDDING
    }

    /** A linear layer unless said otherwise. */
    default Kind kind() {
        return Kind.LINEAR;
    }

    /** The module path, e.g. {@code model.layers.0.self_attn.q_proj}. */
    String path();

    int rank();

    /** Whether these tensors fit a weight of shape [out, in]. */
    boolean fits(int out, int in);

    /** The tensors' shapes as errors name them, e.g. {@code [2, 16] and lora_B [16, 2]}. */
    String shapes();

    /** The shapes the same tensors would have on a weight of shape [out, in], in the form of {@link #shapes()}. */
    String shapesFitting(int out, int in);

    /**
     * {@code row} (length {@code in}) holds row {@code o} of the base weight [out, in], which these tensors fit, and
     * becomes that row of the merged weight.
     */
    void mergeRow(int o, double[] row);

    /** The base weight {@code w: [rows, cols]} (which these tensors fit) merged as the method merges it, in float32. */
    float[] merge(float[] w, int rows, int cols);
}
