package dev.dora4j.model;

import dev.dora4j.autograd.Tape;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.Linear;
import dev.dora4j.nn.LinearForward;
import dev.dora4j.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A causal language model as training, evaluation, generation and serving use it: whole sequences in (hidden
 * states, logits, loss) or new rows of many sequences continuing their {@link KvCache}s (decoding), with its linear
 * layers for adapters and its tensors by Hugging Face name.
 */
public interface CausalLM extends NamedWeights {
    /** The {@code model_type} of its config.json. */
    String modelType();

    int vocabSize();

    int hiddenSize();

    /** The longest sequence the model takes ({@code max_position_embeddings}). */
    int contextLength();

    /** The module path of the output head, never adapted ({@code lm_head}). */
    String outputHead();

    /** Every linear layer by module path, in model order. */
    Map<String, Linear> linears();

    /** Its embedding tables by module path ({@code model.embed_tokens}), where embedding adapters go. */
    default Map<String, Embedding> embeddings() {
        return Map.of();
    }

    /** Recomputes each layer in backward instead of keeping its activations. */
    void activationCheckpointing(boolean on);

    /** ids: [batch·seqLen] -> final hidden states [batch·seqLen, hidden]. */
    Tensor hidden(Tape tape, int[] ids, int batch, int seqLen);

    /** ids: [batch·seqLen] -> logits [batch·seqLen, vocab], without recording. */
    float[] logits(int[] ids, int batch, int seqLen);

    /**
     * The summed cross-entropy of next-token targets (already shifted, -100 for none) divided by
     * {@code normalizer}.
     */
    Tensor loss(Tape tape, int[] ids, int[] targets, int batch, int seqLen, float normalizer);

    /** An empty KV cache for one sequence of up to {@code capacity} positions. */
    KvCache newCache(int capacity);

    /** The bytes {@link #newCache} takes for {@code capacity} positions. */
    long cacheBytes(int capacity);

    /**
     * One decode step over several sequences: {@code ids} holds {@code rowCounts[s]} consecutive new tokens of
     * sequence s, which continue {@code caches.get(s)}; the caches grow by their rows. Linear layers run through
     * {@code linears}. Returns the logits of each sequence's last row: [sequences, vocab].
     */
    float[] decode(int[] ids, List<KvCache> caches, int[] rowCounts, LinearForward linears);

    /** {@link #decode} of one sequence with each layer's own forward: the logits after its last token. */
    default float[] decode(int[] ids, KvCache cache) {
        return decode(ids, List.of(cache), new int[] {ids.length}, LinearForward.OWN);
    }

    /** Shifts labels as transformers does: position t of each sequence predicts label t+1; the last predicts nothing. */
    public static int[] shiftLabels(int[] labels, int batch, int seqLen) {
        int[] targets = new int[labels.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seqLen; t++) {
                targets[b * seqLen + t] = t + 1 < seqLen ? labels[b * seqLen + t + 1] : -100;
            }
        }
        return targets;
    }

    /** Counts the positions that have a target. */
    public static int countTargets(int[] targets) {
        int n = 0;
        for (int t : targets) if (t != -100) n++;
        return n;
    }
}
