package dev.dora4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * The files beside the weights of a bitsandbytes model written dequantised: config.json without its
 * {@code quantization_config} (the weights are floats now), and a shard index without the quant-state tensors.
 */
final class DequantizedFiles {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private DequantizedFiles() {}

    /** Rewrites {@code dir}'s config.json and (when sharded) its index, dropping {@code removedTensors}. */
    static void rewrite(Path dir, Set<String> removedTensors) throws IOException {
        Path config = dir.resolve("config.json");
        ObjectNode root = (ObjectNode) JSON.readTree(config.toFile());
        root.remove("quantization_config");
        Files.writeString(config, JSON.writeValueAsString(root) + "\n");
        Path index = dir.resolve(ShardedSafetensors.INDEX_FILE);
        if (!Files.isRegularFile(index)) return;
        ObjectNode idx = (ObjectNode) JSON.readTree(index.toFile());
        ObjectNode map = (ObjectNode) idx.get("weight_map");
        map.remove(removedTensors);
        long total = 0;
        Set<String> shards = new TreeSet<>();
        map.forEach(file -> shards.add(file.asText()));
        for (String shard : shards) {
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(shard))) {
                for (TensorInfo t : f.tensors()) total += t.byteSize();
            }
        }
        if (idx.get("metadata") instanceof ObjectNode meta) meta.put("total_size", total);
        Files.writeString(index, JSON.writeValueAsString(idx) + "\n");
    }
}
