package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BertLoader, BertConfig and ModelTypes on bad input: every error names the file and the tensor or key. */
class BertLoaderTest {
    @TempDir
    Path tmp;

    /** A copy of a fixture model whose tensors pass {@code keep} (renamed by {@code rename}), plus an optional extra one. */
    private Path copy(String name, Predicate<String> keep, UnaryOperator<String> rename, String extra) throws Exception {
        Path src = BertReferenceTest.dir(name), dst = Files.createTempDirectory(tmp, name);
        Files.copy(src.resolve("config.json"), dst.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsFile in = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            for (TensorInfo t : in.tensors()) {
                if (keep.test(t.name())) w.addRaw(rename.apply(t.name()), t.dtypeName(), t.shape(), in.data(t.name()));
            }
            if (extra != null) w.add(extra, new float[] {1, 2}, new long[] {2}, DType.F32);
            w.write(dst.resolve("model.safetensors"));
        }
        return dst;
    }

    private Path withConfig(String name, String from, String to) throws Exception {
        Path dst = copy(name, n -> true, n -> n, null);
        String json = Files.readString(dst.resolve("config.json"));
        assertThat(json).contains(from);
        Files.writeString(dst.resolve("config.json"), json.replace(from, to));
        return dst;
    }

    @Test
    void unknownTensorsAreListed() throws Exception {
        Path dir = copy("bert_f32", n -> true, n -> n, "bert.encoder.layer.0.attention.self.rotary.weight");
        assertThatThrownBy(() -> BertLoader.load(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining(dir.resolve("model.safetensors").toString())
                .hasMessageContaining("1 tensor(s) not part of a bert model")
                .hasMessageContaining("bert.encoder.layer.0.attention.self.rotary.weight");
    }

    @Test
    void headsAndBuffersOfOtherTasksAreIgnored() throws Exception {
        Path dir = copy("bert_bf16", n -> true, n -> n, "cls.predictions.bias");
        assertThat(BertLoader.load(dir).linears()).hasSize(12);
        Path prefixed = copy("bert_f32", n -> true, n -> n, "cls.predictions.transform.dense.bias");
        assertThat(BertLoader.load(prefixed).classifierWeight()).isNotNull();
    }

    @Test
    void missingTensorsAreNamed() throws Exception {
        Path dir = copy("bert_f32", n -> !n.equals("bert.encoder.layer.1.intermediate.dense.bias"), n -> n, null);
        assertThatThrownBy(() -> BertLoader.load(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining(dir.resolve("model.safetensors").toString())
                .hasMessageContaining("tensor 'bert.encoder.layer.1.intermediate.dense.bias' is missing");
        Path noBias = copy("bert_f32", n -> !n.equals("classifier.bias"), n -> n, null);
        assertThatThrownBy(() -> BertLoader.load(noBias)).hasMessageContaining("tensor 'classifier.bias' is missing");
    }

    @Test
    void wrongShapesAreNamed() throws Exception {
        Path dir = withConfig("bert_bf16", "\"intermediate_size\": 64", "\"intermediate_size\": 48");
        assertThatThrownBy(() -> BertLoader.load(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining("tensor 'encoder.layer.0.intermediate.dense.weight' has shape [64, 32]");
    }

    @Test
    void oldLayerNormNamesAreRead() throws Exception {
        Path dir = copy("bert_bf16", n -> true, n -> n.replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta"), null);
        BertModel model = BertLoader.load(dir);
        assertThat(model.namedTensors()).containsKey("embeddings.LayerNorm.weight").containsKey("encoder.layer.1.output.LayerNorm.bias");
    }

    @Test
    void unsupportedActivationIsNamed() throws Exception {
        Path dir = withConfig("bert_bf16", "\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_new\"");
        assertThatThrownBy(() -> BertLoader.load(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining("hidden_act 'gelu_new' is not supported");
    }

    @Test
    void relativePositionsAreRefused() throws Exception {
        Path dir = withConfig("bert_bf16", "\"absolute\"", "\"relative_key\"");
        assertThatThrownBy(() -> BertLoader.load(dir)).hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining("position_embedding_type 'relative_key' is not supported");
    }

    @Test
    void otherModelTypesAreRefusedNamingConfigJson() throws Exception {
        Path dir = withConfig("bert_bf16", "\"model_type\": \"bert\"", "\"model_type\": \"roberta\"");
        assertThatThrownBy(() -> BertLoader.load(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining("model_type 'roberta' is not a BERT model");
        assertThat(ModelTypes.modelType(dir)).isEqualTo("roberta");
    }

    @Test
    void classifierRowsMustMatchTheLabels() throws Exception {
        Path dir = withConfig("bert_f32", "\"2\": \"positive\"", "\"2\": \"positive\", \"3\": \"mixed\"");
        assertThatThrownBy(() -> BertLoader.load(dir)).hasMessageContaining("'classifier.weight' has 3 rows but config.json has 4 labels");
    }

    @Test
    void pickleCheckpointsAreRefused() throws Exception {
        Path dir = tmp.resolve("pickled");
        Files.createDirectories(dir);
        Files.copy(BertReferenceTest.dir("bert_bf16").resolve("config.json"), dir.resolve("config.json"));
        Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 'c'});
        assertThatThrownBy(() -> BertLoader.load(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining("pytorch_model.bin").hasMessageContaining("pickle");
    }

    @Test
    void modelTypesWithoutLoading() throws Exception {
        assertThat(ModelTypes.modelType(BertReferenceTest.dir("bert_f32"))).isEqualTo("bert");
        assertThat(ModelTypes.isBert(BertReferenceTest.dir("bert_bf16"))).isTrue();
        assertThat(ModelTypes.modelType(HfReferenceTest.dir("qwen2"))).isEqualTo("qwen2");
        assertThat(ModelTypes.isBert(HfReferenceTest.dir("llama_gqa"))).isFalse();
        Path noType = withConfig("bert_bf16", "\"model_type\": \"bert\",", "");
        assertThat(ModelTypes.modelType(noType)).isEqualTo("bert");
        assertThat(BertLoader.load(noType).config().modelType()).isEqualTo("bert");
        assertThatThrownBy(() -> ModelTypes.modelType(tmp.resolve("absent")))
                .hasMessageContaining(tmp.resolve("absent").resolve("config.json").toString());
    }

    @Test
    void configDefaultsAndLabels() throws Exception {
        BertConfig f32 = BertConfig.read(BertReferenceTest.dir("bert_f32").resolve("config.json"));
        assertThat(f32.numLabels()).isEqualTo(3);
        assertThat(f32.id2label()).containsExactly(java.util.Map.entry(0, "negative"), java.util.Map.entry(1, "neutral"),
                java.util.Map.entry(2, "positive"));
        assertThat(f32.layerNormEps()).isEqualTo(1e-12f);
        BertConfig bf16 = BertConfig.read(BertReferenceTest.dir("bert_bf16").resolve("config.json"));
        assertThat(bf16.numLabels()).isZero();
        assertThat(bf16.id2label()).isEmpty();
        assertThat(bf16.initializerRange()).isEqualTo(0.02);
        assertThat(bf16.headDim()).isEqualTo(8);
        Path noEps = withConfig("bert_bf16", "\"layer_norm_eps\": 1e-05,", "\"num_labels\": 5,");
        BertConfig defaults = BertConfig.read(noEps.resolve("config.json"));
        assertThat(defaults.layerNormEps()).isEqualTo(1e-12f);
        assertThat(defaults.numLabels()).isEqualTo(5);
        Path badHeads = withConfig("bert_bf16", "\"num_attention_heads\": 4", "\"num_attention_heads\": 5");
        assertThatThrownBy(() -> BertConfig.read(badHeads.resolve("config.json")))
                .hasMessageContaining(badHeads.resolve("config.json").toString())
                .hasMessageContaining("hidden_size 32 is not a multiple of num_attention_heads 5");
        Path missing = withConfig("bert_bf16", "\"vocab_size\": 100", "\"vocab\": 100");
        assertThatThrownBy(() -> BertConfig.read(missing.resolve("config.json"))).hasMessageContaining("missing key 'vocab_size'");
    }
}
