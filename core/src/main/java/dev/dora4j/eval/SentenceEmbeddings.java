package dev.dora4j.eval;

import dev.dora4j.DoraException;
import dev.dora4j.autograd.Tape;
import dev.dora4j.model.BertModel;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.tokenizer.HfTokenizer;
import dev.dora4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Sentence embeddings from a BERT encoder as sentence-transformers computes them for models such as
 * all-MiniLM-L6-v2: each text tokenised as {@code [CLS] text [SEP]} and cut to the tokenizer's truncation
 * length, the last hidden state pooled ({@code mean}: over the sequence's tokens, which is the
 * attention-mask mean of a padded batch; {@code cls}: the first token's hidden state, without BERT's pooler,
 * as sentence-transformers' CLS pooling does), then L2-normalised ({@code x / max(||x||, 1e-12)}). Texts are
 * run in batches packed end to end, without padding, in inference mode (no gradients).
 */
public final class SentenceEmbeddings {
    /** Texts per forward pass. */
    public static final int DEFAULT_BATCH = 32;

    private final BertModel model;
    private final Tokenizer tokenizer;
    private final String pooling;
    private final int maxLength;

    /**
     * {@code pooling} is {@code "mean"} or {@code "cls"}. The length limit is the tokenizer.json's
     * {@code truncation.max_length} when it has one, else the model's {@code max_position_embeddings}.
     */
    public SentenceEmbeddings(BertModel model, Tokenizer tokenizer, String pooling) {
        if (!pooling.equals("mean") && !pooling.equals("cls")) {
            throw new DoraException("pooling '" + pooling + "' is not one of mean, cls");
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        int positions = model.config().maxPositionEmbeddings();
        int truncation = tokenizer instanceof HfTokenizer hf ? hf.truncationMaxLength() : -1;
        this.maxLength = truncation > 0 ? Math.min(truncation, positions) : positions;
    }

    /** The longest token sequence a text becomes, special tokens included. */
    public int maxLength() {
        return maxLength;
    }

    /** {@code [CLS] text [SEP]} (the tokenizer's BOS and EOS), the text's tokens cut to fit {@link #maxLength()}. */
    public int[] tokens(String text) {
        int[] body = tokenizer.encode(text, false, false);
        boolean bos = tokenizer.bosId() >= 0, eos = tokenizer.eosId() >= 0;
        int room = maxLength - (bos ? 1 : 0) - (eos ? 1 : 0);
        int kept = Math.min(body.length, Math.max(room, 0));
        int[] ids = new int[kept + (bos ? 1 : 0) + (eos ? 1 : 0)];
        int n = 0;
        if (bos) ids[n++] = tokenizer.bosId();
        System.arraycopy(body, 0, ids, n, kept);
        n += kept;
        if (eos) ids[n] = tokenizer.eosId();
        return ids;
    }

    /** The normalised embedding of every text, {@code [texts][hidden]}, in {@link #DEFAULT_BATCH}-text batches. */
    public float[][] embed(List<String> texts) {
        return embed(texts, DEFAULT_BATCH);
    }

    public float[][] embed(List<String> texts, int batchSize) {
        float[][] out = new float[texts.size()][];
        forEachBatch(texts, batchSize, (start, offsets, hidden, tape) -> {
            Tensor pooled = pool(tape, hidden, offsets);
            int width = pooled.cols();
            float[] data = pooled.toFloatArray();
            for (int b = 0; b < offsets.length - 1; b++) {
                out[start + b] = normalize(Arrays.copyOfRange(data, b * width, (b + 1) * width));
            }
        });
        return out;
    }

    /** The last hidden state of every text, {@code [texts][tokens][hidden]}, tokens as {@link #tokens} gives them. */
    public List<float[][]> hiddenStates(List<String> texts) {
        List<float[][]> out = new ArrayList<>(texts.size());
        forEachBatch(texts, DEFAULT_BATCH, (start, offsets, hidden, tape) -> {
            int width = hidden.cols();
            float[] data = hidden.toFloatArray();
            for (int b = 0; b < offsets.length - 1; b++) {
                float[][] rows = new float[offsets[b + 1] - offsets[b]][];
                for (int t = 0; t < rows.length; t++) {
                    int row = offsets[b] + t;
                    rows[t] = Arrays.copyOfRange(data, row * width, (row + 1) * width);
                }
                out.add(rows);
            }
        });
        return out;
    }

    /** {@code x / max(||x||, 1e-12)}, as torch.nn.functional.normalize. */
    public static float[] normalize(float[] x) {
        double sum = 0;
        for (float v : x) sum += (double) v * v;
        double norm = Math.max(Math.sqrt(sum), 1e-12);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) (x[i] / norm);
        return out;
    }

    private Tensor pool(Tape tape, Tensor hidden, int[] offsets) {
        if (pooling.equals("mean")) return model.pool(tape, hidden, offsets, "mean");
        int width = hidden.cols();
        int batch = offsets.length - 1;
        float[] data = hidden.toFloatArray();
        float[] first = new float[batch * width];
        for (int b = 0; b < batch; b++) System.arraycopy(data, offsets[b] * width, first, b * width, width);
        return Tensor.of(first, batch, width);
    }

    private interface BatchConsumer {
        void accept(int start, int[] offsets, Tensor hidden, Tape tape);
    }

    private void forEachBatch(List<String> texts, int batchSize, BatchConsumer consumer) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size " + batchSize);
        for (int start = 0; start < texts.size(); start += batchSize) {
            int end = Math.min(texts.size(), start + batchSize);
            List<int[]> seqs = new ArrayList<>(end - start);
            int total = 0;
            for (String text : texts.subList(start, end)) {
                int[] ids = tokens(text);
                seqs.add(ids);
                total += ids.length;
            }
            int[] ids = new int[total];
            int[] offsets = new int[seqs.size() + 1];
            for (int b = 0; b < seqs.size(); b++) {
                System.arraycopy(seqs.get(b), 0, ids, offsets[b], seqs.get(b).length);
                offsets[b + 1] = offsets[b] + seqs.get(b).length;
            }
            Tape tape = Tape.inference();
            consumer.accept(start, offsets, model.hidden(tape, ids, null, offsets), tape);
        }
    }
}
