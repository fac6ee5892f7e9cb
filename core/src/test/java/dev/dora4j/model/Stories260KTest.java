package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.generate.Generator;
import dev.dora4j.generate.Sampler;
import dev.dora4j.testing.SharedData;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real stories260K checkpoint against golden_greedy_256.json from an independent
 * implementation: 256 greedy ids from BOS and the top-5 logits at positions 0..2.
 */
class Stories260KTest {
    static JsonNode golden;
    static LlamaModel model;

    @BeforeAll
    static void load() throws Exception {
        Path dir = SharedData.file("models/stories260K");
        golden = new ObjectMapper().readTree(dir.resolve("golden_greedy_256.json").toFile());
        model = LlamaLoader.load(dir.resolve("stories260K.bin"));
    }

    @Test
    void greedyGenerationReproducesTheGolden256Ids() {
        Generator gen = new Generator(model, 257);
        int[] ids = gen.generate(new int[] {1}, 256, new Sampler(0, 1, 0), t -> false, null);
        int[] want = new int[256];
        for (int i = 0; i < 256; i++) want[i] = golden.get("generated_ids").get(i).asInt();
        assertThat(ids).containsExactly(want);
    }

    @Test
    void topFiveLogitsMatchAtTheFirstPositions() {
        int[] prompt = {1, golden.get("generated_ids").get(0).asInt(), golden.get("generated_ids").get(1).asInt()};
        float[] all = model.logits(prompt, 1, 3);
        int vocab = model.config().vocabSize();
        for (JsonNode pos : golden.get("first_positions_top5_logits")) {
            int p = pos.get("pos").asInt();
            assertThat(prompt[p]).isEqualTo(pos.get("input_token").asInt());
            for (JsonNode pair : pos.get("top5")) {
                float want = (float) pair.get(1).asDouble();
                assertThat(all[p * vocab + pair.get(0).asInt()]).as("pos %d id %d", p, pair.get(0).asInt())
                        .isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4f * Math.max(1f, Math.abs(want))));
            }
        }
    }

    @Test
    void cachedDecodingEqualsFullRecomputation() {
        int[] seq = {1, 403, 407, 261, 378, 432, 300};
        float[] full = model.logits(seq, 1, seq.length);
        Generator gen = new Generator(model, seq.length);
        int vocab = model.config().vocabSize();
        for (int t = 0; t < seq.length; t++) {
            float[] step = gen.step(seq[t]);
            for (int v = 0; v < vocab; v++) {
                assertThat(step[v]).as("pos %d id %d", t, v)
                        .isCloseTo(full[t * vocab + v], org.assertj.core.data.Offset.offset(2e-4f));
            }
        }
    }
}
