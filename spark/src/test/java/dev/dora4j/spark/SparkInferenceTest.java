package dev.dora4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.data.ClassificationData;
import dev.dora4j.data.ClassificationExample;
import dev.dora4j.data.LabeledText;
import dev.dora4j.eval.ClassificationEvaluator;
import dev.dora4j.eval.SentenceEmbeddings;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.model.BertClassifier;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.model.ClassifierInfo;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.OnnxBertImporter;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.tokenizer.Tokenizers;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** all-MiniLM-L6-v2 with a DoRA adapter on local[2] (embeddings, a classifier's predictions) against the same computed in one process. */
class SparkInferenceTest {
    static final int SENTENCES = Integer.getInteger("dora4j.embed.sentences", 300);
    static JavaSparkContext sc;
    @TempDir
    static Path tmp;
    static Path model, adapter, data;
    static List<String> texts = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        Parallel.setThreads(2);
        Path onnx = tmp.resolve("minilm.onnx"), tokenizer = tmp.resolve("tokenizer.json");
        copy("all-minilm-l6-v2.onnx", onnx);
        copy("all-minilm-l6-v2-tokenizer.json", tokenizer);
        model = tmp.resolve("minilm");
        OnnxBertImporter.convert(onnx, tokenizer, model);
        adapter = trainedLookingDoraAdapter(tmp.resolve("adapter"));
        String[] subjects = {"The lighthouse keeper", "A small robot", "My neighbour's cat", "The old ship", "Every child"};
        String[] verbs = {"watched", "painted", "remembered", "followed", "sang about"};
        String[] objects = {"the stormy sea", "a red kite", "the morning train", "three silver fish", "the quiet harbour"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < SENTENCES; i++) {
            String t = subjects[i % 5] + " " + verbs[(i / 5) % 5] + " " + objects[(i / 25) % 5] + " (" + i + ")";
            texts.add(t);
            lines.add(new ObjectMapper().createObjectNode().put("text", t).toString());
            if (i % 97 == 0) lines.add("");
        }
        data = tmp.resolve("sentences.jsonl");
        Files.write(data, lines);
        sc = SparkContexts.open("local[2]", "dora4j-embed-test", false);
    }

    @AfterAll
    static void stop() {
        sc.stop();
    }

    private static void copy(String resource, Path target) throws Exception {
        try (InputStream in = SparkInferenceTest.class.getClassLoader().getResourceAsStream(resource)) {
            assertThat(in).as(resource + " on the test class path (langchain4j's all-MiniLM-L6-v2 jar)").isNotNull();
            Files.copy(in, target);
        }
    }

    /** A DoRA adapter on query and value with random non-zero B and magnitudes moved off the row norms. */
    static Path trainedLookingDoraAdapter(Path dir) {
        BertModel bert = BertLoader.load(model);
        AdapterConfig config = AdapterConfig.create(4, 8, 0f, List.of("query", "value"), true, false, "FEATURE_EXTRACTION", "minilm");
        Map<String, Adapter> adapters = AdapterInjector.inject(bert.linears(), config, BertModel.CLASSIFIER, 5);
        SplittableRandom rng = new SplittableRandom(3);
        for (Adapter adapter : adapters.values()) {
            LoraAdapter a = (LoraAdapter) adapter;
            float[] b = a.loraB().data(), m = a.magnitude().data();
            for (int i = 0; i < b.length; i++) b[i] = (float) (rng.nextGaussian() * 0.05);
            for (int i = 0; i < m.length; i++) m[i] *= (float) (1 + 0.1 * rng.nextGaussian());
        }
        AdapterFiles.writeFiles(dir, config, adapters);
        return dir;
    }

    /** The embeddings {@code ./dora4j embed --adapter} computes for the texts, in one process. */
    static float[][] expected() {
        return expected(texts);
    }

    static float[][] expected(List<String> texts) {
        BertModel bert = BertLoader.load(model);
        AdapterInjector.attach(bert.linears(), AdapterFiles.read(adapter), BertModel.CLASSIFIER, false, 0);
        return new SentenceEmbeddings(bert, Tokenizers.load(model, null), "mean").embed(texts, SentenceEmbeddings.DEFAULT_BATCH);
    }

    static float[][] read(Path out, int records) throws Exception {
        float[][] got = new float[records][];
        ObjectMapper json = new ObjectMapper();
        List<Path> parts;
        try (Stream<Path> s = Files.list(out)) {
            parts = s.sorted().toList();
        }
        for (Path p : parts) {
            String name = p.getFileName().toString();
            if (name.equals(SparkEmbedding.SUCCESS)) continue;
            assertThat(name).as("only part files and _SUCCESS").matches("part-\\d{5}\\.jsonl");
            for (String line : Files.readAllLines(p)) {
                JsonNode n = json.readTree(line);
                int index = n.get("index").asInt();
                assertThat(got[index]).as("record " + index + " written once").isNull();
                float[] v = new float[n.get("embedding").size()];
                for (int i = 0; i < v.length; i++) v[i] = n.get("embedding").get(i).floatValue();
                got[index] = v;
            }
        }
        return got;
    }

    @Test
    void miniLmWithADoraAdapterOnTwoExecutorsGivesTheEmbedCommandsVectors() throws Exception {
        Path out = tmp.resolve("out");
        EmbeddingJob job = new EmbeddingJob(model.toString(), null, adapter.toString(), LinearStorage.AS_STORED, "mean", 32, -1);
        SparkEmbedding.Result r = SparkEmbedding.embed(sc, job, data, out, 4);
        assertThat(r.records()).isEqualTo(SENTENCES);
        float[][] want = expected(), got = read(out, SENTENCES);
        double worst = 0;
        for (int i = 0; i < SENTENCES; i++) {
            assertThat(got[i]).as("record " + i).hasSize(want[i].length);
            for (int j = 0; j < want[i].length; j++) worst = Math.max(worst, Math.abs(got[i][j] - want[i][j]));
        }
        System.out.printf("%d sentences on local[2], 4 partitions, %.1f s: largest difference from one process %.3g%n", SENTENCES,
                r.seconds(), worst);
        assertThat(worst).isLessThan(1e-6);
    }

    /** The largest |a − b| between the part files' vectors and one process's embeddings of the same texts. */
    static double worstDifference(Path out, List<String> texts) throws Exception {
        float[][] want = expected(texts), got = read(out, texts.size());
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            assertThat(got[i]).as("record " + i).hasSize(want[i].length);
            for (int j = 0; j < want[i].length; j++) worst = Math.max(worst, Math.abs(got[i][j] - want[i][j]));
        }
        return worst;
    }

    /** Texts with commas, quotes and a line break inside a quoted CSV field. */
    static List<String> awkwardTexts(int n) {
        List<String> few = new ArrayList<>(texts.subList(0, n));
        few.set(3, "a comma, and \"quotes\"");
        few.set(7, "a line\nbreak inside the field");
        return few;
    }

    @Test
    void csvWithATextColumnGivesTheEmbedCommandsVectorsInFileOrder() throws Exception {
        List<String> few = awkwardTexts(50);
        List<String> lines = new ArrayList<>(List.of("id,text,note"));
        for (int i = 0; i < few.size(); i++) lines.add(i + ",\"" + few.get(i).replace("\"", "\"\"") + "\",x");
        Path csv = tmp.resolve("sentences.csv");
        Files.write(csv, lines);
        Path out = tmp.resolve("csv-out");
        SparkEmbedding.Result r = SparkEmbedding.embed(sc, new EmbeddingJob(model.toString(), null, adapter.toString(), LinearStorage.AS_STORED, "mean", 16, -1), csv,
                out, 3);
        assertThat(r.records()).isEqualTo(few.size());
        assertThat(r.partitions()).isEqualTo(3);
        assertThat(worstDifference(out, few)).isLessThan(1e-6);
    }

    @Test
    void parquetReadInSeveralSplitsGivesTheEmbedCommandsVectorsInFileOrder() throws Exception {
        List<String> few = awkwardTexts(60);
        SparkSession spark = SparkSession.builder().getOrCreate();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < few.size(); i++) rows.add(RowFactory.create((long) i, few.get(i)));
        StructType schema = new StructType().add("id", DataTypes.LongType).add("text", DataTypes.StringType);
        Path written = tmp.resolve("parquet-written");
        // small row groups, so that a small split size reads the one file in several splits
        spark.createDataFrame(rows, schema).coalesce(1).write().option("parquet.block.size", 512).parquet(written.toString());
        Path parquet = tmp.resolve("sentences.parquet");
        try (Stream<Path> s = Files.list(written)) {
            Files.copy(s.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow(), parquet);
        }
        Path out = tmp.resolve("parquet-out");
        spark.conf().set("spark.sql.files.maxPartitionBytes", "600");
        try {
            assertThat(spark.read().parquet(parquet.toString()).javaRDD().getNumPartitions()).as("splits of the file").isGreaterThan(1);
            SparkEmbedding.Result r = SparkEmbedding.embed(sc, new EmbeddingJob(model.toString(), null, adapter.toString(), LinearStorage.AS_STORED, "mean", 16, -1),
                    parquet, out, 4);
            assertThat(r.records()).isEqualTo(few.size());
        } finally {
            spark.conf().unset("spark.sql.files.maxPartitionBytes");
        }
        assertThat(worstDifference(out, few)).isLessThan(1e-6);
    }

    @Test
    void aTableWithoutATextColumnIsRefusedNamingItsColumns() throws Exception {
        Path csv = tmp.resolve("no-text.csv");
        Files.write(csv, List.of("id,sentence", "0,hello"));
        Path out = tmp.resolve("no-text-out");
        assertThatThrownBy(() -> SparkEmbedding.embed(sc, new EmbeddingJob(model.toString(), null, null, LinearStorage.AS_STORED, "mean", 16, -1), csv, out, 2))
                .isInstanceOf(DoraException.class).hasMessage(csv + ": no column 'text'; its columns are id, sentence");
        assertThat(out).doesNotExist();
    }

    /** A DoRA classifier as {@code train --task classify} writes it: encoder adapter, random head, classification.json. */
    static Path classifierAdapter(Path dir, List<String> labels) {
        BertModel bert = BertLoader.load(model, "bert.");
        AdapterConfig config = new AdapterConfig(4, 8, 0f, List.of("query", "value"), null, true, false, null, null, "none",
                List.of(BertModel.CLASSIFIER), "SEQ_CLS", "minilm", null);
        Map<String, Adapter> adapters = AdapterInjector.inject(bert.linears(), config, BertModel.CLASSIFIER, 5);
        SplittableRandom rng = new SplittableRandom(4);
        for (Adapter adapter : adapters.values()) {
            float[] b = ((LoraAdapter) adapter).loraB().data();
            for (int i = 0; i < b.length; i++) b[i] = (float) (rng.nextGaussian() * 0.05);
        }
        BertClassifier classifier = BertClassifier.create(bert, labels, "mean", 9);
        AdapterFiles.writeFiles(dir, config, adapters, classifier.headTensors());
        ClassifierInfo.write(dir, labels, "mean");
        return dir;
    }

    @Test
    void aClassifiersPredictionsOnTwoExecutorsAreTheOneProcessPredictions() throws Exception {
        List<String> labels = List.of("sea", "sky", "land");
        Path classifier = classifierAdapter(tmp.resolve("classifier"), labels);
        List<String> few = awkwardTexts(80);
        Path csv = tmp.resolve("to-classify.csv");
        List<String> lines = new ArrayList<>(List.of("text"));
        for (String t : few) lines.add("\"" + t.replace("\"", "\"\"") + "\"");
        Files.write(csv, lines);
        Path out = tmp.resolve("classified");
        long n = SparkClassification.classify(sc, new ClassifyJob(model.toString(), null, classifier.toString(), LinearStorage.AS_STORED, null, 16), csv, out, 3);
        assertThat(n).isEqualTo(few.size());

        BertClassifier one = BertClassifier.load(model, classifier, null);
        List<LabeledText> records = few.stream().map(t -> new LabeledText("test", t, labels.getFirst())).toList();
        List<ClassificationExample> examples = ClassificationData.prepare(records, Tokenizers.load(model, null),
                one.bert().config().maxPositionEmbeddings(), labels).examples();
        double[][] want = ClassificationEvaluator.predict(one, examples, 8);
        String[] got = new String[few.size()];
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> s = Files.list(out)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("part-")).toList()) {
                for (String line : Files.readAllLines(p)) {
                    JsonNode node = json.readTree(line);
                    int index = node.get("index").asInt();
                    assertThat(got[index]).as("record " + index + " written once").isNull();
                    got[index] = node.get("label").asText();
                }
            }
        }
        String[] expected = new String[few.size()];
        for (int i = 0; i < expected.length; i++) expected[i] = labels.get((int) want[i][0]);
        assertThat(got).containsExactly(expected);
        assertThat(new HashSet<>(List.of(expected))).as("the random head tells the texts apart").hasSizeGreaterThan(1);
    }

    @Test
    void theLinearWeightsStorageIsHonouredOnTheExecutors() throws Exception {
        List<String> few = texts.subList(0, 24);
        Path small = tmp.resolve("bf16.jsonl");
        Files.write(small, few.stream().map(t -> new ObjectMapper().createObjectNode().put("text", t).toString()).toList());
        LinearStorage bf16 = LinearStorage.parse("bf16", null, false);
        Path out = tmp.resolve("bf16-out");
        SparkEmbedding.embed(sc, new EmbeddingJob(model.toString(), null, adapter.toString(), bf16, "mean", 8, -1), small, out, 2);
        float[][] got = read(out, few.size());
        float[][] want = new SentenceEmbeddings(BertLoader.loadWithAdapter(model, adapter, bf16), Tokenizers.load(model, null), "mean")
                .embed(few, SentenceEmbeddings.DEFAULT_BATCH);
        float[][] asStored = expected(few);
        double worst = 0, fromF32 = 0;
        for (int i = 0; i < few.size(); i++) {
            for (int j = 0; j < want[i].length; j++) {
                worst = Math.max(worst, Math.abs(got[i][j] - want[i][j]));
                fromF32 = Math.max(fromF32, Math.abs(got[i][j] - asStored[i][j]));
            }
        }
        assertThat(worst).isLessThan(1e-6);
        assertThat(fromF32).as("bf16 weights change the vectors").isGreaterThan(1e-4);
    }

    @Test
    void aRetriedPartitionLeavesNoDuplicateOrPartialOutput() throws Exception {
        Path out = tmp.resolve("retried");
        EmbeddingJob job = new EmbeddingJob(model.toString(), null, adapter.toString(), LinearStorage.AS_STORED, "mean", 32, 1);
        List<String> few = texts.subList(0, 40);
        Path small = tmp.resolve("few.jsonl");
        Files.write(small, few.stream().map(t -> new ObjectMapper().createObjectNode().put("text", t).toString()).toList());
        SparkEmbedding.Result r = SparkEmbedding.embed(sc, job, small, out, 3);
        assertThat(r.records()).isEqualTo(40);
        float[][] got = read(out, 40);
        for (int i = 0; i < 40; i++) assertThat(got[i]).as("record " + i).isNotNull();
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains("tmp"));
        }
    }

    @Test
    void aNonEmptyOutputDirectoryIsRefused() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(out.resolve("part-00000.jsonl"), "{}\n");
        EmbeddingJob job = new EmbeddingJob(model.toString(), null, null, LinearStorage.AS_STORED, "mean", 32, -1);
        assertThatThrownBy(() -> SparkEmbedding.embed(sc, job, data, out, 2)).isInstanceOf(DoraException.class)
                .hasMessage(out + ": is not empty; choose a new --out (part files would mix)");
    }
}
