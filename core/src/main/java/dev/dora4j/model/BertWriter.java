package dev.dora4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes a BERT sequence classifier as a transformers {@code BertForSequenceClassification} directory. */
public final class BertWriter {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BertWriter() {}

    /** {@code config.json} (with id2label / label2id) and {@code model.safetensors} into an existing directory. */
    public static void writeClassifier(BertClassifier classifier, Path dir, DType dtype) {
        Map<String, Tensor> tensors = new LinkedHashMap<>(classifier.bert().namedTensors());
        tensors.putAll(classifier.headTensors());
        writeTensors(tensors, dir, dtype);
        AtomicFiles.writeString(dir.resolve("config.json"), config(classifier.bert().config(), classifier.labels(), dtype));
    }

    /** The encoder alone ({@code BertModel}): {@code config.json} and {@code model.safetensors} into an existing directory. */
    public static void writeFiles(BertModel model, Path dir, DType dtype) {
        writeTensors(model.namedTensors(), dir, dtype);
        AtomicFiles.writeString(dir.resolve("config.json"), config(model.config(), List.of(), dtype));
    }

    private static void writeTensors(Map<String, Tensor> tensors, Path dir, DType dtype) {
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long[] shape = new long[t.rank()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.dim(i);
            writer.add(e.getKey(), t.toFloatArray(), shape, dtype);
        }
        writer.write(dir.resolve("model.safetensors"));
    }

    static String config(BertConfig c, List<String> labels, DType dtype) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(labels.isEmpty() ? "BertModel" : "BertForSequenceClassification");
        o.put("model_type", "bert");
        o.put("vocab_size", c.vocabSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("num_hidden_layers", c.numHiddenLayers());
        o.put("num_attention_heads", c.numAttentionHeads());
        o.put("intermediate_size", c.intermediateSize());
        o.put("hidden_act", c.hiddenAct());
        o.put("max_position_embeddings", c.maxPositionEmbeddings());
        o.put("type_vocab_size", c.typeVocabSize());
        o.put("layer_norm_eps", c.layerNormEps());
        o.put("initializer_range", c.initializerRange());
        o.put("pad_token_id", c.padTokenId());
        o.put("position_embedding_type", "absolute");
        o.put("torch_dtype", dtype == DType.BF16 ? "bfloat16" : dtype == DType.F16 ? "float16" : "float32");
        ObjectNode id2label = labels.isEmpty() ? null : o.putObject("id2label");
        ObjectNode label2id = labels.isEmpty() ? null : o.putObject("label2id");
        for (int i = 0; i < labels.size(); i++) {
            id2label.put(Integer.toString(i), labels.get(i));
            label2id.put(labels.get(i), i);
        }
        try {
            return JSON.writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new DoraException("cannot write config.json: " + e.getMessage(), e);
        }
    }
}
