package dev.dora4j.analysis;

import dev.dora4j.DoraException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The pretrained weights W_0 of a model, read one matrix at a time: a Hugging Face directory (single or
 * sharded safetensors, memory-mapped) or a llama2.c checkpoint. Names are Hugging Face's
 * ({@code model.layers.N.self_attn.q_proj.weight}).
 */
public abstract class BaseWeights implements AutoCloseable {
    private static final Pattern LAYER_WEIGHT = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)\\.weight");

    /** A model directory, or a llama2.c checkpoint file ({@code .bin}). */
    public static BaseWeights open(Path path) {
        if (Files.isRegularFile(path)) {
            if (path.getFileName().toString().endsWith(".bin")) return Llama2cBaseWeights.openFile(path);
            throw new DoraException(path + ": not a model directory or a llama2.c checkpoint (.bin)");
        }
        if (!Files.isDirectory(path)) throw new DoraException(path + ": base model not found");
        return SafetensorsBaseWeights.openDir(path);
    }

    /** The file or directory read. */
    public abstract Path source();

    /** Every tensor name of the model. */
    public abstract List<String> names();

    /** The shape of a tensor, as stored. */
    protected abstract long[] shapeOf(String name);

    /** The values of a tensor, as floats, in memory. */
    protected abstract float[] readValues(String name);

    /** The 2-D weight {@code name} as a matrix; throws naming the source when it is missing or not 2-D. */
    public Matrix read(String name) {
        if (!names().contains(name)) throw new DoraException(source() + ": no tensor named '" + name + "'");
        long[] shape = shapeOf(name);
        if (shape.length != 2) {
            throw new DoraException(source() + ": tensor '" + name + "' has shape " + Arrays.toString(shape) + ", not a 2-D weight");
        }
        return new Matrix(name, readValues(name), Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
    }

    /** The number of transformer layers ({@code model.layers.N}). */
    public int layers() {
        int max = -1;
        for (String name : names()) {
            Matcher m = LAYER_WEIGHT.matcher(name);
            if (m.matches()) max = Math.max(max, Integer.parseInt(m.group(1)));
        }
        return max + 1;
    }

    /**
     * The weight name of {@code module} (a short name such as {@code q_proj}, or a dotted suffix such as
     * {@code self_attn.q_proj}) in every layer, by layer index.
     */
    public List<String> weightNames(String module) {
        int layers = layers();
        String[] found = new String[layers];
        for (String name : names()) {
            Matcher m = LAYER_WEIGHT.matcher(name);
            if (!m.matches()) continue;
            String rest = m.group(2);
            if (!rest.equals(module) && !rest.endsWith("." + module)) continue;
            int layer = Integer.parseInt(m.group(1));
            if (found[layer] != null) {
                throw new DoraException(source() + ": module '" + module + "' is ambiguous in layer " + layer + " ('" + found[layer]
                        + "' and '" + name + "'); give a longer suffix such as self_attn.q_proj");
            }
            found[layer] = name;
        }
        boolean any = Arrays.stream(found).anyMatch(n -> n != null);
        if (!any) {
            throw new DoraException(source() + ": no module '" + module + "' in the model's layers (its modules: "
                    + String.join(", ", moduleNames()) + ")");
        }
        for (int layer = 0; layer < layers; layer++) {
            if (found[layer] == null) {
                throw new DoraException(source() + ": module '" + module + "' is missing from layer " + layer);
            }
        }
        return List.of(found);
    }

    /** The short names of the 2-D weights in the layers, in file order. */
    private List<String> moduleNames() {
        Set<String> modules = new LinkedHashSet<>();
        for (String name : names()) {
            Matcher m = LAYER_WEIGHT.matcher(name);
            if (m.matches() && shapeOf(name).length == 2) {
                String rest = m.group(2);
                modules.add(rest.substring(rest.lastIndexOf('.') + 1));
            }
        }
        return new ArrayList<>(modules);
    }

    @Override
    public abstract void close();
}
