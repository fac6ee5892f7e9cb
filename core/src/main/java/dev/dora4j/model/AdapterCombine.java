package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterWeights;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.peft.LoraCombination;
import dev.dora4j.peft.ModuleWeights;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code combine}: several LoRA/DoRA adapters into one PEFT adapter with weights, by {@link LoraCombination}: PEFT's
 * {@code add_weighted_adapter} for LoRA, and an exact definition for DoRA, whose norms need the base model's weights.
 * The combined adapter has {@code lora_alpha = r} (scaling 1), no rsLoRA and no patterns.
 */
public final class AdapterCombine {
    /** One input adapter and its weight. */
    public record Weighted(Path dir, double weight) {}

    /** What was written: the combined rank, whether it is DoRA, and the relative error of each module's merged weight. */
    public record Summary(int rank, boolean dora, Map<String, Double> relativeErrors) {}

    private AdapterCombine() {}

    /**
     * @param rank the SVD rank (null: the largest input rank); ignored by cat (Σ of the ranks) and linear (the common rank)
     * @param model the base model directory, required when an input is DoRA; may be null otherwise
     */
    public static Summary combine(List<Weighted> inputs, LoraCombination.Kind kind, Integer rank, Path model, Path out) {
        if (inputs.isEmpty()) throw new DoraException("give at least one --adapter");
        List<AdapterFiles.Loaded> loaded = new ArrayList<>();
        for (Weighted in : inputs) {
            AdapterFiles.Loaded l = AdapterFiles.read(in.dir());
            if (!(l.config() instanceof AdapterConfig)) {
                throw new DoraException(in.dir().resolve(AdapterConfig.FILE_NAME) + ": combine takes LoRA/DoRA adapters, this is "
                        + l.config().method().displayName());
            }
            if (!l.saved().isEmpty()) {
                throw new DoraException(in.dir().resolve(AdapterFiles.WEIGHTS_FILE) + ": holds modules_to_save tensors ("
                        + l.saved().keySet().iterator().next() + "), which combine cannot combine");
            }
            loaded.add(l);
        }
        boolean dora = loaded.stream().anyMatch(l -> l.config().method().useDora());
        if (dora && model == null) {
            throw new DoraException("--model is required: an input adapter is DoRA, and its norms depend on the base weights");
        }
        List<Integer> maxRanks = loaded.stream().map(l -> l.modules().values().stream().mapToInt(ModuleWeights::rank).max().orElse(0))
                .toList();
        int newRank = switch (kind) {
            case CAT -> maxRanks.stream().mapToInt(Integer::intValue).sum();
            case LINEAR -> maxRanks.getFirst();
            case SVD -> rank != null ? rank : maxRanks.stream().mapToInt(Integer::intValue).max().orElse(1);
        };
        if (newRank <= 0) throw new DoraException("--rank must be positive, got " + newRank);
        Set<String> paths = new LinkedHashSet<>();
        for (AdapterFiles.Loaded l : loaded) {
            for (var e : l.modules().entrySet()) {
                if (e.getValue().kind() == ModuleWeights.Kind.EMBEDDING) {
                    throw new DoraException(l.dir() + ": module '" + e.getKey() + "' adapts an embedding; combine takes adapters on"
                            + " linear layers only (merge such adapters with `merge --adapter A --adapter B`)");
                }
            }
            paths.addAll(l.modules().keySet());
        }

        Map<String, Adapter> adapters = new LinkedHashMap<>();
        Map<String, Double> errors = new LinkedHashMap<>();
        try (ShardedSafetensors base = model == null ? null : ShardedSafetensors.open(model)) {
            for (String path : paths) {
                List<LoraCombination.Input> parts = new ArrayList<>();
                AdapterWeights any = null;
                for (int k = 0; k < loaded.size(); k++) {
                    AdapterWeights m = (AdapterWeights) loaded.get(k).modules().get(path);
                    if (m != null) any = m;
                    parts.add(new LoraCombination.Input(m, inputs.get(k).weight()));
                }
                float[] w = base == null ? null : weight(base, model, path, any);
                LoraCombination.Result r = LoraCombination.combine(kind, path, w, any.out(), any.in(), parts, newRank, dora);
                AdapterWeights c = r.module();
                adapters.put(path, new LoraAdapter(path, Tensor.of(c.loraA(), newRank, c.in()), Tensor.of(c.loraB(), c.out(), newRank),
                        c.magnitude() == null ? null : Tensor.of(c.magnitude(), c.out()), 1f, null));
                errors.put(path, r.relativeError());
            }
        }
        checkReplaceable(out);
        AdapterFiles.write(out, config(loaded, newRank, dora), adapters);
        return new Summary(newRank, dora, errors);
    }

    private static float[] weight(ShardedSafetensors base, Path model, String path, AdapterWeights m) {
        String name = path + ".weight";
        if (!base.contains(name)) throw new DoraException(model + ": tensor '" + name + "' is missing (an adapter targets " + path + ")");
        TensorInfo info = base.info(name);
        if (!m.fits((int) info.shape()[0], (int) info.shape()[1]) || info.shape().length != 2) {
            throw new DoraException(base.fileOf(name).path() + ": tensor '" + name + "' is " + java.util.Arrays.toString(info.shape())
                    + " but the adapter's '" + PeftKeys.loraA(path) + "' is " + m.shapes());
        }
        return base.readFloats(name);
    }

    /** The first input's config with r = lora_alpha = the new rank, the union of the targets, DoRA if any input is. */
    private static AdapterConfig config(List<AdapterFiles.Loaded> loaded, int rank, boolean dora) {
        AdapterConfig first = (AdapterConfig) loaded.getFirst().config();
        List<String> names = new ArrayList<>();
        List<String> regexes = new ArrayList<>();
        for (AdapterFiles.Loaded l : loaded) {
            AdapterConfig c = (AdapterConfig) l.config();
            if (c.targetModulesRegex() != null) regexes.add(c.targetModulesRegex());
            else for (String t : c.targetModules()) if (!names.contains(t)) names.add(t);
        }
        if (!regexes.isEmpty() && !names.isEmpty()) {
            throw new DoraException("the adapters name target_modules both as lists and as regular expressions, which PEFT cannot"
                    + " combine");
        }
        String regex = regexes.isEmpty() ? null : regexes.stream().map(r -> "(" + r + ")").collect(Collectors.joining("|"));
        return new AdapterConfig(rank, rank, first.loraDropout(), names, regex, dora, false, null, null, first.bias(), null,
                first.taskType(), first.baseModelNameOrPath(), null);
    }

    /** The output directory is replaced whole: one that exists must be empty or an adapter directory. */
    private static void checkReplaceable(Path dir) {
        if (!Files.isDirectory(dir) || Files.isRegularFile(dir.resolve(AdapterConfig.FILE_NAME))) return;
        try (Stream<Path> entries = Files.list(dir)) {
            if (entries.findAny().isPresent()) {
                throw new DoraException(dir + ": exists and is not an adapter directory; choose an empty or new --out");
            }
        } catch (java.io.IOException e) {
            throw new DoraException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }
}
