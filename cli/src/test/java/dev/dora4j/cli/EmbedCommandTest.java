package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.LoraAdapter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code embed} on all-MiniLM-L6-v2 converted from the langchain4j jar. */
class EmbedCommandTest {
    static final String A = "How tall is the Sears Building ?";
    static final String B = "What is the height of the Sears Tower ?";

    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void convert() throws Exception {
        model = tmp.resolve("minilm");
        CliRun r = CliRun.of("convert", "--onnx", ConvertOnnxCliTest.jar().toString(), "--out", model.toString());
        assertThat(r.code()).as(r.err()).isZero();
    }

    static float[][] embeddings(CliRun r) throws Exception {
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertThat(root.fieldNames()).toIterable().containsExactly("embeddings");
        float[][] out = new float[root.get("embeddings").size()][];
        for (int i = 0; i < out.length; i++) {
            JsonNode row = root.get("embeddings").get(i);
            out[i] = new float[row.size()];
            for (int j = 0; j < out[i].length; j++) out[i][j] = row.get(j).floatValue();
        }
        return out;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    @Test
    void jsonHoldsOneUnitVectorPerText() throws Exception {
        float[][] e = embeddings(CliRun.of("embed", "--model", model.toString(), "--text", A, "--text", B,
                "--text", "Why does the moon turn orange ?", "--json"));
        assertThat(e).hasNumberOfRows(3);
        for (float[] v : e) {
            assertThat(v).hasSize(384);
            assertThat(dot(v, v)).isCloseTo(1.0, within(1e-5));
        }
        assertThat(dot(e[0], e[1])).isGreaterThan(dot(e[0], e[2]) + 0.2);

        float[][] cls = embeddings(CliRun.of("embed", "--model", model.toString(), "--text", A, "--pooling", "cls", "--json"));
        assertThat(dot(cls[0], cls[0])).isCloseTo(1.0, within(1e-5));
        assertThat(dot(cls[0], e[0])).isLessThan(0.999);
    }

    @Test
    void textOutputIsOneLinePerText() {
        CliRun r = CliRun.of("embed", "--model", model.toString(), "--text", A, "--text", B);
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("0  [").endsWith("...]  dim 384  norm 1.000000");
        assertThat(lines.get(1)).startsWith("1  [");
        assertThat(r.err()).contains("embedded 2 text(s) (mean pooling, 384 dimensions)");
    }

    @Test
    void adapterChangesTheEmbeddingsOnlyWhenItIsNotTheIdentity() throws Exception {
        BertModel bert = BertLoader.load(model);
        AdapterConfig config = AdapterConfig.create(4, 8, 0, List.of("query", "value"), true, false,
                "FEATURE_EXTRACTION", "all-MiniLM-L6-v2");
        Map<String, Adapter> adapters = AdapterInjector.inject(bert.linears(), config, null, 1);
        assertThat(adapters).hasSize(12);
        Path identity = tmp.resolve("identity-adapter");
        AdapterFiles.write(identity, config, adapters);
        Random random = new Random(3);
        for (Adapter a : adapters.values()) {
            float[] b = ((LoraAdapter) a).loraB().data();
            for (int i = 0; i < b.length; i++) b[i] = (float) random.nextGaussian() * 0.05f;
        }
        Path trained = tmp.resolve("adapter");
        AdapterFiles.write(trained, config, adapters);

        float[] base = embeddings(CliRun.of("embed", "--model", model.toString(), "--text", A, "--json"))[0];
        float[] same = embeddings(CliRun.of("embed", "--model", model.toString(), "--adapter", identity.toString(),
                "--text", A, "--json"))[0];
        float[] moved = embeddings(CliRun.of("embed", "--model", model.toString(), "--adapter", trained.toString(),
                "--text", A, "--json"))[0];
        for (int i = 0; i < base.length; i++) assertThat(same[i]).isCloseTo(base[i], within(1e-5f));
        assertThat(dot(moved, moved)).isCloseTo(1.0, within(1e-5));
        assertThat(dot(moved, base)).isLessThan(0.9999);
    }

    @Test
    void badInputIsOneLine(@TempDir Path dir) {
        CliRun pooling = CliRun.of("embed", "--model", model.toString(), "--text", A, "--pooling", "max");
        assertThat(pooling.code()).isEqualTo(1);
        assertThat(pooling.errorLines()).containsExactly("error: --pooling 'max' is not one of mean, cls");

        CliRun llama = CliRun.of("embed", "--model", CliTest.FIXTURES.resolve("model").toString(), "--text", A);
        assertThat(llama.code()).isEqualTo(1);
        assertThat(llama.errorLines()).singleElement().asString().contains("embed needs a BERT encoder");

        CliRun noText = CliRun.of("embed", "--model", model.toString());
        assertThat(noText.code()).isEqualTo(2);
        assertThat(noText.err()).contains("--text");

        CliRun missing = CliRun.of("embed", "--model", dir.resolve("nothing").toString(), "--text", A);
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("nothing").doesNotContain("\tat ");

        assertThat(CliRun.of("embed", "--help").code()).isZero();
    }
}
