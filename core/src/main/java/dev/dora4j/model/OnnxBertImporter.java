package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.OnnxFile;
import dev.dora4j.io.OnnxSource;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.onnx.OnnxProtos.TensorProto;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Imports a BERT-family encoder exported to ONNX (e.g. by {@code torch.onnx.export} of a transformers
 * {@code BertModel}) as a Hugging Face model directory with {@code BertModel} weight names. Named
 * initializers (embeddings, biases, LayerNorms) keep their names, less any prefix such as {@code bert.};
 * the anonymous dense weights ({@code onnx::MatMul_NNN}, stored {@code [in, out]}) are named after the
 * {@code <module>.bias} that the graph adds to their product and transposed to {@code [out, in]}. The
 * config comes from the tensor shapes and the graph; anything that cannot be mapped is an error.
 */
public final class OnnxBertImporter {
    /** A converted tensor: HF name, {@code float32} values, shape. */
    public record NamedTensor(String name, float[] values, long[] shape) {
    }

    /** The importer's result: the inferred config and the tensors in HF's order. */
    public record Imported(OnnxBertConfig config, List<NamedTensor> tensors) {
        public long parameterCount() {
            return tensors.stream().mapToLong(t -> t.values().length).sum();
        }
    }

    private static final String WORD_EMBEDDINGS = "embeddings.word_embeddings.weight";
    private static final List<String> LAYER_DENSE = List.of("attention.self.query", "attention.self.key",
            "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense");
    private static final List<String> LAYER_NORMS = List.of("attention.output.LayerNorm", "output.LayerNorm");
    /** Buffers that transformers registers on BertEmbeddings; they are not weights. */
    private static final Set<String> BUFFERS = Set.of("embeddings.position_ids", "embeddings.token_type_ids");
    private static final Set<String> QUANTIZED_OPS = Set.of("MatMulInteger", "QLinearMatMul", "DequantizeLinear",
            "DynamicQuantizeLinear", "QuantizeLinear", "MatMulNBits", "QAttention");
    private static final Pattern LAYER = Pattern.compile("encoder\\.layer\\.(\\d+)\\..+");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private OnnxBertImporter() {
    }

    /**
     * Converts {@code onnxOrArchive} (a {@code .onnx} file, or a {@code .jar}/{@code .zip} holding one) into
     * {@code outDir}: {@code config.json}, {@code model.safetensors} (F32) and {@code tokenizer.json}
     * ({@code tokenizer}, else found as {@link OnnxSource} describes). The directory appears whole or not at all.
     */
    public static Imported convert(Path onnxOrArchive, Path tokenizer, Path outDir) {
        LlamaWriter.checkReplaceable(outDir);
        try (OnnxSource source = OnnxSource.open(onnxOrArchive, tokenizer)) {
            Imported imported;
            try {
                imported = importModel(OnnxFile.read(source.onnx()), source.origin());
            } catch (DoraException e) {
                throw source.renamed(e);
            }
            Path tokenizerJson = source.tokenizer();
            checkTokenizer(tokenizerJson, imported.config().vocabSize());
            AtomicFiles.writeDirectory(outDir, tmp -> {
                SafetensorsWriter writer = new SafetensorsWriter().metadata(Map.of("format", "pt"));
                for (NamedTensor t : imported.tensors()) writer.add(t.name(), t.values(), t.shape(), DType.F32);
                writer.write(tmp.resolve("model.safetensors"));
                AtomicFiles.writeString(tmp.resolve("config.json"), imported.config().toJson());
                Files.copy(tokenizerJson, tmp.resolve("tokenizer.json"));
            });
            return imported;
        }
    }

    /** Maps the weights of {@code onnx} to HF BertModel names and infers the config. */
    public static Imported importModel(OnnxFile onnx) {
        return importModel(onnx, onnx.path().toString());
    }

    private static Imported importModel(OnnxFile onnx, String origin) {
        refuseQuantized(onnx, origin);
        String prefix = prefix(onnx, origin);
        OnnxBertGraph graph = new OnnxBertGraph(onnx);
        List<String> unmapped = new ArrayList<>();
        Map<String, OnnxBertGraph.DenseWeight> dense = graph.denseWeights(prefix, unmapped);
        Set<String> denseNames = new TreeSet<>();
        dense.values().forEach(d -> denseNames.add(d.weight().getName()));

        Map<String, NamedTensor> byName = new LinkedHashMap<>();
        for (OnnxBertGraph.DenseWeight d : dense.values()) {
            byName.put(d.module() + ".weight", denseTensor(onnx, d));
        }
        for (TensorProto t : onnx.initializers().values()) {
            if (denseNames.contains(t.getName()) || t.getDataType() != TensorProto.DataType.FLOAT_VALUE
                    || OnnxFile.numel(t) <= 1) {
                continue;
            }
            String name = t.getName().startsWith(prefix) ? t.getName().substring(prefix.length()) : null;
            if (name == null || BUFFERS.contains(name) || !isNamedWeight(name, dense.keySet())) {
                if (name == null || !BUFFERS.contains(name)) unmapped.add(t.getName());
                continue;
            }
            byName.put(name, new NamedTensor(name, onnx.floats(t), OnnxFile.dims(t)));
        }
        if (!unmapped.isEmpty()) {
            throw new DoraException(origin + ": cannot map " + unmapped.size() + " tensor(s) to BertModel weights: "
                    + summarize(unmapped));
        }
        int layers = layerCount(byName.keySet());
        List<String> order = expectedNames(layers, byName.containsKey("pooler.dense.weight")
                || byName.containsKey("pooler.dense.bias"));
        List<String> missing = order.stream().filter(n -> !byName.containsKey(n)).toList();
        if (!missing.isEmpty()) {
            throw new DoraException(origin + ": not a complete BERT encoder: missing " + summarize(missing));
        }
        List<String> extra = byName.keySet().stream().filter(n -> !order.contains(n)).toList();
        if (!extra.isEmpty()) {
            throw new DoraException(origin + ": cannot map " + extra.size() + " tensor(s) to BertModel weights: "
                    + summarize(extra.stream().map(n -> prefix + n).toList()));
        }
        List<NamedTensor> tensors = order.stream().map(byName::get).toList();
        OnnxBertConfig config = config(graph, byName, layers, origin);
        checkShapes(byName, config, origin);
        return new Imported(config, tensors);
    }

    /** Quantized exports (int8 weights behind MatMulInteger or DequantizeLinear) would lose precision. */
    private static void refuseQuantized(OnnxFile onnx, String origin) {
        Set<String> quantized = new TreeSet<>();
        onnx.graph().getNodeList().forEach(n -> {
            if (QUANTIZED_OPS.contains(n.getOpType())) quantized.add(n.getOpType());
        });
        if (!quantized.isEmpty()) {
            throw new DoraException(origin + ": a quantized ONNX model (" + String.join(", ", quantized) + " nodes);"
                    + " only float32 exports can be imported");
        }
    }

    private static String prefix(OnnxFile onnx, String origin) {
        List<String> prefixes = onnx.initializers().keySet().stream().filter(n -> n.endsWith(WORD_EMBEDDINGS))
                .map(n -> n.substring(0, n.length() - WORD_EMBEDDINGS.length()))
                .filter(p -> p.isEmpty() || p.endsWith(".")).toList();
        if (prefixes.size() != 1) {
            throw new DoraException(origin + ": not a BERT-family export: " + (prefixes.isEmpty()
                    ? "no initializer named [prefix.]" + WORD_EMBEDDINGS : "several word embeddings " + prefixes));
        }
        return prefixes.getFirst();
    }

    private static boolean isNamedWeight(String name, Set<String> denseModules) {
        if (name.equals(WORD_EMBEDDINGS) || name.equals("embeddings.position_embeddings.weight")
                || name.equals("embeddings.token_type_embeddings.weight")) {
            return true;
        }
        if (name.endsWith(".LayerNorm.weight") || name.endsWith(".LayerNorm.bias")) return true;
        return name.endsWith(".bias") && denseModules.contains(name.substring(0, name.length() - ".bias".length()));
    }

    /** {@code [in, out]} as stored for MatMul becomes PyTorch's {@code [out, in]}. */
    private static NamedTensor denseTensor(OnnxFile onnx, OnnxBertGraph.DenseWeight d) {
        float[] stored = onnx.floats(d.weight());
        long[] dims = OnnxFile.dims(d.weight());
        String name = d.module() + ".weight";
        if (d.outIn()) return new NamedTensor(name, stored, dims);
        int in = Math.toIntExact(dims[0]), out = Math.toIntExact(dims[1]);
        float[] weight = new float[stored.length];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) weight[o * in + i] = stored[i * out + o];
        }
        return new NamedTensor(name, weight, new long[] {out, in});
    }

    private static int layerCount(Set<String> names) {
        int max = -1;
        for (String name : names) {
            Matcher m = LAYER.matcher(name);
            if (m.matches()) max = Math.max(max, Integer.parseInt(m.group(1)));
        }
        return max + 1;
    }

    /** The BertModel weight names in transformers' order. */
    private static List<String> expectedNames(int layers, boolean pooler) {
        List<String> names = new ArrayList<>(List.of(WORD_EMBEDDINGS, "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"));
        for (int l = 0; l < layers; l++) {
            String layer = "encoder.layer." + l + ".";
            for (String module : List.of("attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense",
                    "output.LayerNorm")) {
                names.add(layer + module + ".weight");
                names.add(layer + module + ".bias");
            }
        }
        if (pooler) {
            names.add("pooler.dense.weight");
            names.add("pooler.dense.bias");
        }
        return names;
    }

    private static OnnxBertConfig config(OnnxBertGraph graph, Map<String, NamedTensor> byName, int layers, String origin) {
        if (layers == 0) throw new DoraException(origin + ": not a BERT encoder: no encoder.layer.N weights");
        long[] word = byName.get(WORD_EMBEDDINGS).shape();
        if (word.length != 2) {
            throw new DoraException(origin + ": " + WORD_EMBEDDINGS + " has shape " + Arrays.toString(word)
                    + ", expected [vocab, hidden]");
        }
        int hidden = Math.toIntExact(word[1]);
        int intermediate = Math.toIntExact(byName.get("encoder.layer.0.intermediate.dense.weight").shape()[0]);
        int heads = graph.attentionHeads(hidden);
        return new OnnxBertConfig(Math.toIntExact(word[0]), hidden, layers, heads, intermediate,
                Math.toIntExact(byName.get("embeddings.position_embeddings.weight").shape()[0]),
                Math.toIntExact(byName.get("embeddings.token_type_embeddings.weight").shape()[0]),
                graph.layerNormEps(), graph.activation(layers), 0);
    }

    private static void checkShapes(Map<String, NamedTensor> byName, OnnxBertConfig c, String origin) {
        long h = c.hiddenSize(), f = c.intermediateSize();
        Map<String, long[]> expected = new LinkedHashMap<>();
        expected.put("embeddings.position_embeddings.weight", new long[] {c.maxPositionEmbeddings(), h});
        expected.put("embeddings.token_type_embeddings.weight", new long[] {c.typeVocabSize(), h});
        expected.put("embeddings.LayerNorm.weight", new long[] {h});
        expected.put("embeddings.LayerNorm.bias", new long[] {h});
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String layer = "encoder.layer." + l + ".";
            for (String module : LAYER_DENSE) {
                long out = module.equals("intermediate.dense") ? f : h;
                long in = module.equals("output.dense") ? f : h;
                expected.put(layer + module + ".weight", new long[] {out, in});
                expected.put(layer + module + ".bias", new long[] {out});
            }
            for (String norm : LAYER_NORMS) {
                expected.put(layer + norm + ".weight", new long[] {h});
                expected.put(layer + norm + ".bias", new long[] {h});
            }
        }
        if (byName.containsKey("pooler.dense.weight")) {
            expected.put("pooler.dense.weight", new long[] {h, h});
            expected.put("pooler.dense.bias", new long[] {h});
        }
        expected.forEach((name, shape) -> {
            long[] actual = byName.get(name).shape();
            if (!Arrays.equals(actual, shape)) {
                throw new DoraException(origin + ": tensor '" + name + "' has shape " + Arrays.toString(actual)
                        + ", expected " + Arrays.toString(shape) + " for hidden_size " + h + " and intermediate_size " + f);
            }
        });
        if (h % c.numAttentionHeads() != 0) {
            throw new DoraException(origin + ": hidden_size " + h + " is not a multiple of " + c.numAttentionHeads()
                    + " attention heads");
        }
    }

    /** The tokenizer must be a tokenizer.json whose ids fit the model's vocabulary. */
    private static void checkTokenizer(Path tokenizerJson, int vocabSize) {
        JsonNode root;
        try {
            root = JSON.readTree(tokenizerJson.toFile());
        } catch (IOException e) {
            throw new DoraException(tokenizerJson + ": not a readable tokenizer.json: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""), e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject()) {
            throw new DoraException(tokenizerJson + ": not a Hugging Face tokenizer.json (no \"model\" object)");
        }
        long maxId = -1;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (JsonNode id : vocab) maxId = Math.max(maxId, id.asLong());
        } else if (vocab.isArray()) {
            maxId = vocab.size() - 1;
        }
        for (JsonNode added : root.path("added_tokens")) maxId = Math.max(maxId, added.path("id").asLong());
        if (maxId >= vocabSize) {
            throw new DoraException(tokenizerJson + ": tokenizer has ids up to " + maxId + " but the model's vocabulary"
                    + " is " + vocabSize);
        }
    }

    private static String summarize(List<String> names) {
        int shown = Math.min(names.size(), 12);
        String list = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? list + ", ... (" + (names.size() - shown) + " more)" : list;
    }
}
