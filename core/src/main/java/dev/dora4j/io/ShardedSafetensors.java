package dev.dora4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The weights of a Hugging Face model directory: {@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json}. For a sharded model the index is authoritative: its names are the
 * model's tensors, each must be in the shard the index names, and tensors a shard holds beyond the index
 * are not exposed.
 */
public final class ShardedSafetensors implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path source;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> fileByName;
    private final List<String> names;
    private final boolean sharded;

    private ShardedSafetensors(Path source, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileByName,
            List<String> names, boolean sharded) {
        this.source = source;
        this.files = Collections.unmodifiableList(files);
        this.fileByName = fileByName;
        this.names = Collections.unmodifiableList(names);
        this.sharded = sharded;
    }

    public static ShardedSafetensors open(Path modelDir) {
        if (!Files.isDirectory(modelDir)) {
            throw new DoraException(modelDir + ": model directory not found");
        }
        Path single = modelDir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            SafetensorsFile file = SafetensorsFile.open(single);
            Map<String, SafetensorsFile> fileByName = new HashMap<>();
            List<String> names = new ArrayList<>();
            for (TensorInfo tensor : file.tensors()) {
                fileByName.put(tensor.name(), file);
                names.add(tensor.name());
            }
            return new ShardedSafetensors(single, new ArrayList<>(List.of(file)), fileByName, names, false);
        }
        Path index = modelDir.resolve(INDEX_FILE);
        if (!Files.isRegularFile(index)) {
            throw new DoraException(modelDir + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " in this directory");
        }
        return openSharded(modelDir, index, readWeightMap(modelDir, index));
    }

    /** Shard file name to the tensor names the index places in it, shards in name order. */
    private static Map<String, List<String>> readWeightMap(Path modelDir, Path index) {
        String text;
        try {
            text = Files.readString(index);
        } catch (IOException e) {
            throw new DoraException(index + ": cannot read: " + e, e);
        }
        JsonNode root = StrictJson.parse(index.toString(), text);
        JsonNode weightMap = root.isObject() ? root.get("weight_map") : null;
        if (weightMap == null || !weightMap.isObject()) {
            throw new DoraException(index + ": 'weight_map' must be an object mapping tensor names to shard files");
        }
        Map<String, List<String>> byShard = new TreeMap<>();
        for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
            String tensor = entry.getKey();
            JsonNode shard = entry.getValue();
            if (!shard.isTextual()) {
                throw new DoraException(index + ": tensor '" + tensor + "': shard must be a file name string (found "
                        + StrictJson.typeOf(shard) + ")");
            }
            checkInside(modelDir, index, tensor, shard.textValue());
            byShard.computeIfAbsent(shard.textValue(), k -> new ArrayList<>()).add(tensor);
        }
        return byShard;
    }

    private static void checkInside(Path modelDir, Path index, String tensor, String shard) {
        String where = index + ": tensor '" + tensor + "': shard file '" + shard + "'";
        if (shard.isEmpty() || shard.indexOf('\0') >= 0) {
            throw new DoraException(where + " is not a valid file name");
        }
        Path relative;
        try {
            relative = Path.of(shard);
        } catch (RuntimeException e) {
            throw new DoraException(where + " is not a valid file name");
        }
        boolean hasParentStep = false;
        for (Path part : relative) {
            hasParentStep |= part.toString().equals("..");
        }
        Path base = modelDir.toAbsolutePath().normalize();
        if (relative.isAbsolute() || relative.getRoot() != null || hasParentStep
                || !base.resolve(relative).normalize().startsWith(base)) {
            throw new DoraException(where + " escapes the model directory");
        }
    }

    private static ShardedSafetensors openSharded(Path modelDir, Path index, Map<String, List<String>> byShard) {
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> fileByName = new HashMap<>();
        List<String> names = new ArrayList<>();
        try {
            for (Map.Entry<String, List<String>> shard : byShard.entrySet()) {
                SafetensorsFile file = SafetensorsFile.open(modelDir.resolve(shard.getKey()));
                files.add(file);
                Set<String> listed = new HashSet<>(shard.getValue());
                for (String tensor : shard.getValue()) {
                    if (!file.contains(tensor)) {
                        throw new DoraException(index + ": tensor '" + tensor + "' is mapped to '" + shard.getKey()
                                + "', which does not contain it");
                    }
                }
                for (TensorInfo tensor : file.tensors()) {
                    if (listed.contains(tensor.name())) {
                        names.add(tensor.name());
                        fileByName.put(tensor.name(), file);
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedSafetensors(index, files, fileByName, names, true);
    }

    /** Tensor names: shard by shard, each shard's in data order. */
    public List<String> names() {
        return names;
    }

    public boolean contains(String name) {
        return fileByName.containsKey(name);
    }

    public SafetensorsFile fileOf(String name) {
        SafetensorsFile file = fileByName.get(name);
        if (file == null) {
            throw new DoraException(source + ": no tensor named '" + name + "'");
        }
        return file;
    }

    public TensorInfo info(String name) {
        return fileOf(name).info(name);
    }

    public float[] readFloats(String name) {
        return fileOf(name).readFloats(name);
    }

    /** The open files: one for a single-file model, the shards in file-name order otherwise. */
    public List<SafetensorsFile> files() {
        return files;
    }

    public boolean isSharded() {
        return sharded;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
