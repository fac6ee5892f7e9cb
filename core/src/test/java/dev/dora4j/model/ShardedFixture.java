package dev.dora4j.model;

import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Splits a single-file model directory into two shards with an index, as transformers writes them. */
final class ShardedFixture {
    private ShardedFixture() {}

    static Path split(Path modelDir, Path outDir) throws IOException {
        Files.createDirectories(outDir);
        for (String f : List.of("config.json", "tokenizer_config.json")) {
            if (Files.exists(modelDir.resolve(f))) Files.copy(modelDir.resolve(f), outDir.resolve(f));
        }
        StringBuilder index = new StringBuilder("{\n  \"metadata\": {\"total_size\": 0},\n  \"weight_map\": {\n");
        try (SafetensorsFile in = SafetensorsFile.open(modelDir.resolve("model.safetensors"))) {
            List<TensorInfo> all = in.tensors();
            SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
            for (int i = 0; i < all.size(); i++) {
                TensorInfo t = all.get(i);
                int shard = i < all.size() / 2 ? 0 : 1;
                shards[shard].addRaw(t.name(), t.dtypeName(), t.shape(), in.data(t.name()));
                index.append("    \"").append(t.name()).append("\": \"").append(shardName(shard)).append('"')
                        .append(i + 1 < all.size() ? ",\n" : "\n");
            }
            for (int s = 0; s < 2; s++) shards[s].write(outDir.resolve(shardName(s)));
        }
        index.append("  }\n}\n");
        Files.writeString(outDir.resolve("model.safetensors.index.json"), index.toString());
        return outDir;
    }

    static String shardName(int shard) {
        return String.format("model-%05d-of-00002.safetensors", shard + 1);
    }
}
