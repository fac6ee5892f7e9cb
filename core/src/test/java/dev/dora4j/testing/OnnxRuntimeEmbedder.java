package dev.dora4j.testing;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.dora4j.tokenizer.HfTokenizer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference for sentence embeddings: the ONNX model run by ONNX Runtime, one sentence at a time
 * ({@code input_ids}, {@code attention_mask}, {@code token_type_ids} as int64 {@code [1, T]}), its
 * {@code last_hidden_state} mean-pooled over the attention mask and L2-normalised, as sentence-transformers
 * does for all-MiniLM-L6-v2. Sentences are tokenised with {@code [CLS] ... [SEP]} and cut to {@code maxLength}.
 */
public final class OnnxRuntimeEmbedder implements AutoCloseable {
    /** One sentence: its ids, the last hidden state {@code [T][hidden]} and the normalised mean-pooled embedding. */
    public record Output(int[] ids, float[][] hidden, float[] embedding) {}

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final HfTokenizer tokenizer;
    private final int maxLength;

    public OnnxRuntimeEmbedder(Path onnx, Path tokenizerJson, int maxLength) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(2);
            this.session = env.createSession(onnx.toString(), options);
        }
        this.tokenizer = HfTokenizer.load(tokenizerJson);
        this.maxLength = maxLength;
    }

    public List<Output> run(List<String> sentences) throws OrtException {
        List<Output> outputs = new ArrayList<>();
        for (String sentence : sentences) outputs.add(run(tokens(sentence)));
        return outputs;
    }

    /** {@code [CLS] text [SEP]}, the text's tokens cut so that the whole fits {@code maxLength}. */
    public int[] tokens(String sentence) {
        int[] ids = tokenizer.encode(sentence, true, true);
        if (ids.length <= maxLength) return ids;
        int[] cut = Arrays.copyOf(ids, maxLength);
        cut[maxLength - 1] = ids[ids.length - 1];
        return cut;
    }

    public Output run(int[] ids) throws OrtException {
        int t = ids.length;
        long[] inputIds = new long[t], mask = new long[t], types = new long[t];
        for (int i = 0; i < t; i++) {
            inputIds[i] = ids[i];
            mask[i] = 1;
        }
        long[] shape = {1, t};
        Map<String, OnnxTensor> inputs = new HashMap<>();
        try {
            inputs.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape));
            inputs.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            if (session.getInputNames().contains("token_type_ids")) {
                inputs.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape));
            }
            try (OrtSession.Result result = session.run(inputs)) {
                float[][] hidden = ((float[][][]) result.get("last_hidden_state").orElseThrow().getValue())[0];
                return new Output(ids, hidden, meanPoolNormalized(hidden, mask));
            }
        } finally {
            inputs.values().forEach(OnnxTensor::close);
        }
    }

    /** sentence-transformers' Pooling(mean) then Normalize: sum(h * mask) / max(sum(mask), 1e-9), then / max(||.||, 1e-12). */
    static float[] meanPoolNormalized(float[][] hidden, long[] mask) {
        int width = hidden[0].length;
        double[] sum = new double[width];
        double count = 0;
        for (int i = 0; i < hidden.length; i++) {
            if (mask[i] == 0) continue;
            count++;
            for (int j = 0; j < width; j++) sum[j] += hidden[i][j];
        }
        double norm = 0;
        for (int j = 0; j < width; j++) {
            sum[j] /= Math.max(count, 1e-9);
            norm += sum[j] * sum[j];
        }
        norm = Math.max(Math.sqrt(norm), 1e-12);
        float[] out = new float[width];
        for (int j = 0; j < width; j++) out[j] = (float) (sum[j] / norm);
        return out;
    }

    @Override
    public void close() throws OrtException {
        session.close();
        tokenizer.close();
    }
}
