package dev.dora4j.analysis;

import dev.dora4j.io.ShardedSafetensors;
import java.nio.file.Path;
import java.util.List;

/** The weights of a Hugging Face model directory, memory-mapped; each read copies one tensor out. */
final class SafetensorsBaseWeights extends BaseWeights {
    private final Path dir;
    private final ShardedSafetensors files;

    private SafetensorsBaseWeights(Path dir, ShardedSafetensors files) {
        this.dir = dir;
        this.files = files;
    }

    static SafetensorsBaseWeights openDir(Path dir) {
        return new SafetensorsBaseWeights(dir, ShardedSafetensors.open(dir));
    }

    @Override
    public Path source() {
        return dir;
    }

    @Override
    public List<String> names() {
        return files.names();
    }

    @Override
    protected long[] shapeOf(String name) {
        return files.info(name).shape();
    }

    @Override
    protected float[] readValues(String name) {
        return files.readFloats(name);
    }

    @Override
    public void close() {
        files.close();
    }
}
