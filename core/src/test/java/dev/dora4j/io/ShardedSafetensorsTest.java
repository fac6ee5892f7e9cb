package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedSafetensorsTest {
    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    private void writeShards() {
        new SafetensorsWriter()
                .add("model.embed_tokens.weight", new float[] {1, 2, 3, 4}, new long[] {2, 2}, DType.BF16)
                .add("model.layers.0.self_attn.q_proj.weight", new float[] {5, 6}, new long[] {1, 2}, DType.F32)
                .write(dir.resolve(SHARD1));
        new SafetensorsWriter()
                .add("model.norm.weight", new float[] {7, 8}, new long[] {2}, DType.F16)
                .add("lm_head.weight", new float[] {9, 10}, new long[] {1, 2}, DType.F32)
                .write(dir.resolve(SHARD2));
    }

    private Path writeIndex(String weightMapEntries) throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\":{\"total_size\":28},\"weight_map\":{" + weightMapEntries + "}}");
        return index;
    }

    private static String mapping(String tensor, String shard) {
        return "\"" + tensor + "\":\"" + shard + "\"";
    }

    private String fullIndex() {
        return String.join(",",
                mapping("lm_head.weight", SHARD2),
                mapping("model.embed_tokens.weight", SHARD1),
                mapping("model.layers.0.self_attn.q_proj.weight", SHARD1),
                mapping("model.norm.weight", SHARD2));
    }

    @Test
    void singleFileModel() {
        new SafetensorsWriter()
                .add("b", new float[] {1}, new long[] {1}, DType.F32)
                .add("a", new float[] {2}, new long[] {1}, DType.F32)
                .write(dir.resolve("model.safetensors"));
        try (ShardedSafetensors model = ShardedSafetensors.open(dir)) {
            assertThat(model.isSharded()).isFalse();
            assertThat(model.names()).containsExactly("b", "a");
            assertThat(model.files()).hasSize(1);
            assertThat(model.readFloats("a")).containsExactly(2f);
            assertThat(model.info("b").dtype()).isEqualTo(DType.F32);
        }
    }

    @Test
    void shardedModelFollowsTheIndex() throws IOException {
        writeShards();
        writeIndex(fullIndex());
        try (ShardedSafetensors model = ShardedSafetensors.open(dir)) {
            assertThat(model.isSharded()).isTrue();
            assertThat(model.files()).extracting(f -> f.path().getFileName().toString())
                    .containsExactly(SHARD1, SHARD2);
            assertThat(model.names()).containsExactly("model.embed_tokens.weight",
                    "model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "lm_head.weight");
            assertThat(model.fileOf("lm_head.weight").path()).isEqualTo(dir.resolve(SHARD2));
            assertThat(model.readFloats("model.embed_tokens.weight")).containsExactly(1, 2, 3, 4);
            assertThat(model.readFloats("model.norm.weight")).containsExactly(7, 8);
            assertThat(model.info("lm_head.weight").shape()).containsExactly(1, 2);
            assertThat(model.contains("model.norm.weight")).isTrue();
            assertThatThrownBy(() -> model.fileOf("nope"))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage(dir.resolve("model.safetensors.index.json") + ": no tensor named 'nope'");
        }
    }

    @Test
    void singleFileWinsOverAnIndex() throws IOException {
        writeShards();
        writeIndex(fullIndex());
        new SafetensorsWriter().add("only", new float[] {1}, new long[] {1}, DType.F32)
                .write(dir.resolve("model.safetensors"));
        try (ShardedSafetensors model = ShardedSafetensors.open(dir)) {
            assertThat(model.isSharded()).isFalse();
            assertThat(model.names()).containsExactly("only");
        }
    }

    @Test
    void missingWeightsNameTheDirectory() {
        assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(dir + ": no model.safetensors or model.safetensors.index.json in this directory");
    }

    @Test
    void missingDirectoryIsNamed() {
        Path absent = dir.resolve("absent");
        assertThatThrownBy(() -> ShardedSafetensors.open(absent))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(absent + ": model directory not found");
    }

    @Test
    void indexNameMissingFromItsShard() throws IOException {
        writeShards();
        Path index = writeIndex(fullIndex() + "," + mapping("model.layers.1.mlp.up_proj.weight", SHARD2));
        assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(index + ": tensor 'model.layers.1.mlp.up_proj.weight' is mapped to '" + SHARD2
                        + "', which does not contain it");
    }

    @Test
    void shardPathsThatEscapeTheDirectoryAreRefused() throws IOException {
        writeShards();
        for (String shard : new String[] {"../" + SHARD1, "/etc/passwd", "sub/../../" + SHARD1, ".."}) {
            Path index = writeIndex(mapping("w", shard));
            assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage(index + ": tensor 'w': shard file '" + shard + "' escapes the model directory");
        }
    }

    @Test
    void shardFileNamesMustBeStrings() throws IOException {
        Path index = writeIndex("\"w\":3");
        assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(index + ": tensor 'w': shard must be a file name string (found number)");
    }

    @Test
    void indexWithoutWeightMap() throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\":{}}");
        assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(index + ": 'weight_map' must be an object mapping tensor names to shard files");
    }

    @Test
    void malformedIndexJsonAndDuplicateNames() throws IOException {
        Path index = writeIndex(mapping("w", SHARD1) + "," + mapping("w", SHARD2));
        assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith(index + " is not valid JSON: Duplicate field 'w'");
    }

    @Test
    void missingShardFileIsNamed() throws IOException {
        writeIndex(mapping("w", SHARD1));
        assertThatThrownBy(() -> ShardedSafetensors.open(dir))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(dir.resolve(SHARD1) + ": file not found");
    }
}
