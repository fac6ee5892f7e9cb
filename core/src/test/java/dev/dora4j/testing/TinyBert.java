package dev.dora4j.testing;

import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A small randomly initialised BERT model directory (BertModel naming, no pooler) with the real all-MiniLM-L6-v2
 * WordPiece tokenizer, for training and loading tests that need a whole model directory quickly.
 */
public final class TinyBert {
    public static final int VOCAB = 30522, HIDDEN = 32, LAYERS = 2, HEADS = 4, FFN = 64, POSITIONS = 64;

    private TinyBert() {}

    public static Path write(Path dir, long seed) throws Exception {
        Files.createDirectories(dir);
        SplittableRandom r = new SplittableRandom(seed);
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata(Map.of("format", "pt"));
        add(w, r, "embeddings.word_embeddings.weight", 0.02, VOCAB, HIDDEN);
        add(w, r, "embeddings.position_embeddings.weight", 0.02, POSITIONS, HIDDEN);
        add(w, r, "embeddings.token_type_embeddings.weight", 0.02, 2, HIDDEN);
        norm(w, "embeddings.LayerNorm");
        for (int l = 0; l < LAYERS; l++) {
            String p = "encoder.layer." + l + ".";
            for (String m : new String[] {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
                add(w, r, p + m + ".weight", 0.1, HIDDEN, HIDDEN);
                add(w, r, p + m + ".bias", 0.02, HIDDEN);
            }
            norm(w, p + "attention.output.LayerNorm");
            add(w, r, p + "intermediate.dense.weight", 0.1, FFN, HIDDEN);
            add(w, r, p + "intermediate.dense.bias", 0.02, FFN);
            add(w, r, p + "output.dense.weight", 0.1, HIDDEN, FFN);
            add(w, r, p + "output.dense.bias", 0.02, HIDDEN);
            norm(w, p + "output.LayerNorm");
        }
        w.write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": %d, "hidden_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "intermediate_size": %d, "hidden_act": "gelu",
                 "max_position_embeddings": %d, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "initializer_range": 0.02,
                 "pad_token_id": 0, "position_embedding_type": "absolute"}
                """.formatted(VOCAB, HIDDEN, LAYERS, HEADS, FFN, POSITIONS));
        Files.copy(SharedData.file("minilm/all-minilm-l6-v2-tokenizer.json"), dir.resolve("tokenizer.json"));
        return dir;
    }

    private static void add(SafetensorsWriter w, SplittableRandom r, String name, double std, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
        w.add(name, v, shape, DType.F32);
    }

    private static void norm(SafetensorsWriter w, String prefix) {
        float[] ones = new float[HIDDEN];
        java.util.Arrays.fill(ones, 1f);
        w.add(prefix + ".weight", ones, new long[] {HIDDEN}, DType.F32);
        w.add(prefix + ".bias", new float[HIDDEN], new long[] {HIDDEN}, DType.F32);
    }
}
