package dev.dora4j.eval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.model.OnnxBertImporter;
import dev.dora4j.testing.MiniLmOnnx;
import dev.dora4j.testing.OnnxRuntimeEmbedder;
import dev.dora4j.testing.SharedData;
import dev.dora4j.tokenizer.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 converted from ONNX and run by {@link BertModel} gives what ONNX Runtime gives for the
 * original graph: every token's last hidden state and the mean-pooled, normalised sentence embedding, to 1e-4.
 */
class OnnxParityTest {
    static final double TOLERANCE = 1e-4;

    @TempDir
    static Path tmp;
    static BertModel model;
    static HfTokenizer tokenizer;
    static OnnxRuntimeEmbedder reference;
    static List<String> sentences;

    @BeforeAll
    static void setUp() throws Exception {
        Path dir = tmp.resolve("minilm");
        OnnxBertImporter.convert(MiniLmOnnx.onnx(), null, dir);
        model = BertLoader.load(dir, "");
        tokenizer = HfTokenizer.load(dir.resolve("tokenizer.json"));
        reference = new OnnxRuntimeEmbedder(MiniLmOnnx.onnx(), MiniLmOnnx.tokenizer(), 128);
        sentences = realSentences();
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (reference != null) reference.close();
        if (tokenizer != null) tokenizer.close();
    }

    /**
     * Six TREC questions, the shortest and the three longest SST-2 dev sentences, and the SST-2 sentences joined
     * into one text far past the tokenizer's 128-token truncation.
     */
    static List<String> realSentences() throws Exception {
        List<String> out = new ArrayList<>();
        List<String> trec = Files.readAllLines(SharedData.file("classification/trec/TREC.test"));
        for (String line : trec.subList(0, 6)) out.add(line.substring(line.indexOf(' ') + 1));
        List<String> sst = Files.readAllLines(SharedData.file("classification/sst2-sentence/stsa.binary.dev")).stream()
                .filter(l -> !l.isBlank()).map(l -> l.substring(2)).sorted(Comparator.comparingInt(String::length)).toList();
        out.add(sst.getFirst());
        out.addAll(sst.subList(sst.size() - 3, sst.size()));
        out.add(String.join(" ", sst.subList(sst.size() - 8, sst.size())));
        return out;
    }

    @Test
    void tokensMatchTheReferencePipeline() {
        SentenceEmbeddings embeddings = new SentenceEmbeddings(model, tokenizer, "mean");
        assertThat(embeddings.maxLength()).isEqualTo(128);
        assertThat(sentences).hasSizeGreaterThanOrEqualTo(8);
        int longest = 0;
        for (String s : sentences) {
            int[] ids = embeddings.tokens(s);
            assertThat(ids).as(s).containsExactly(reference.tokens(s));
            assertThat(ids[0]).isEqualTo(101);
            assertThat(ids[ids.length - 1]).isEqualTo(102);
            longest = Math.max(longest, ids.length);
        }
        assertThat(longest).as("one text is truncated").isEqualTo(128);
    }

    @Test
    void hiddenStatesAndEmbeddingsMatchOnnxRuntime() throws Exception {
        SentenceEmbeddings embeddings = new SentenceEmbeddings(model, tokenizer, "mean");
        List<OnnxRuntimeEmbedder.Output> expected = reference.run(sentences);
        List<float[][]> hidden = embeddings.hiddenStates(sentences);
        float[][] pooled = embeddings.embed(sentences, 4);
        double worstHidden = 0, worstEmbedding = 0;
        for (int s = 0; s < sentences.size(); s++) {
            float[][] want = expected.get(s).hidden();
            assertThat(hidden.get(s)).as("tokens of sentence %d", s).hasNumberOfRows(want.length);
            for (int t = 0; t < want.length; t++) {
                worstHidden = Math.max(worstHidden, maxAbsDiff(hidden.get(s)[t], want[t]));
            }
            worstEmbedding = Math.max(worstEmbedding, maxAbsDiff(pooled[s], expected.get(s).embedding()));
        }
        System.err.printf("MiniLM vs ONNX Runtime over %d sentences: hidden max |diff| %.3g, embedding max |diff| %.3g%n",
                sentences.size(), worstHidden, worstEmbedding);
        assertThat(worstHidden).isLessThanOrEqualTo(TOLERANCE);
        assertThat(worstEmbedding).isLessThanOrEqualTo(TOLERANCE);
    }

    @Test
    void batchingDoesNotChangeEmbeddings() {
        SentenceEmbeddings embeddings = new SentenceEmbeddings(model, tokenizer, "mean");
        float[][] alone = embeddings.embed(sentences, 1);
        float[][] packed = embeddings.embed(sentences, sentences.size());
        for (int s = 0; s < sentences.size(); s++) {
            assertThat(maxAbsDiff(alone[s], packed[s])).as("sentence %d", s).isLessThanOrEqualTo(1e-6);
        }
    }

    @Test
    void clsPoolingIsTheFirstTokenNormalised() {
        List<String> two = sentences.subList(0, 2);
        float[][] cls = new SentenceEmbeddings(model, tokenizer, "cls").embed(two);
        List<float[][]> hidden = new SentenceEmbeddings(model, tokenizer, "mean").hiddenStates(two);
        for (int s = 0; s < two.size(); s++) {
            assertThat(maxAbsDiff(cls[s], SentenceEmbeddings.normalize(hidden.get(s)[0]))).isLessThanOrEqualTo(1e-6);
        }
    }

    /** The reference itself: unit vectors, and questions about the same thing closer than unrelated ones. */
    @Test
    void referenceEmbeddingsBehaveLikeSentenceEmbeddings() throws Exception {
        List<OnnxRuntimeEmbedder.Output> out = reference.run(List.of("How tall is the Sears Building ?",
                "What is the height of the Sears Tower ?", "Why does the moon turn orange ?"));
        for (OnnxRuntimeEmbedder.Output o : out) assertThat(dot(o.embedding(), o.embedding())).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        assertThat(dot(out.get(0).embedding(), out.get(1).embedding()))
                .isGreaterThan(dot(out.get(0).embedding(), out.get(2).embedding()) + 0.2);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
        return worst;
    }

    static double dot(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) sum += (double) a[i] * b[i];
        return sum;
    }
}
