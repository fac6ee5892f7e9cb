package dev.dora4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/** LoRA and DoRA ({@code peft_type: "LORA"}, {@code use_dora} false or true) as registered methods. */
public enum LoraMethod implements PeftMethod {
    LORA(false),
    DORA(true);

    private final boolean dora;

    LoraMethod(boolean dora) {
        this.dora = dora;
    }

    @Override
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String displayName() {
        return dora ? "DoRA" : "LoRA";
    }

    @Override
    public String peftType() {
        return "LORA";
    }

    @Override
    public boolean useDora() {
        return dora;
    }

    @Override
    public PeftConfig parseConfig(JsonNode root, String source) {
        return AdapterConfig.parse(root, source);
    }

    @Override
    public PeftConfig newConfig(AdapterSettings s) {
        return new AdapterConfig(s.rank(), s.alpha(), s.dropout(), s.targets(), null, dora, s.rslora(), null, null, "none",
                s.modulesToSave(), s.taskType(), s.baseModel(), null);
    }

    /**
     * Fresh adapters: A Kaiming-uniform (a = √5, as {@code nn.Linear}), B zero, and for DoRA the
     * magnitude = ‖W‖ per row (the norm of W + s·B·A with B = 0).
     */
    @Override
    public Map<String, Adapter> create(PeftConfig peftConfig, Map<String, Linear> targets, long seed) {
        AdapterConfig config = (AdapterConfig) peftConfig;
        Map<String, Adapter> adapters = new LinkedHashMap<>();
        for (var e : targets.entrySet()) {
            String path = e.getKey();
            Linear layer = e.getValue();
            int r = config.rankFor(path), in = layer.inFeatures(), out = layer.outFeatures();
            SplittableRandom rng = new SplittableRandom(seed ^ (long) path.hashCode() * 0x9E3779B97F4A7C15L);
            float[] a = new float[r * in];
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            Tensor magnitude = null;
            if (dora) {
                magnitude = Tensor.param(DoraNorm.rowNorms(layer.weight().matrix()), out).named(PeftKeys.magnitude(path));
            }
            adapters.put(path, new LoraAdapter(path, Tensor.param(a, r, in).named(PeftKeys.loraA(path)),
                    Tensor.param(new float[out * r], out, r).named(PeftKeys.loraB(path)),
                    magnitude, config.scalingFor(path), AdapterInjector.dropout(config, seed, path)));
        }
        return adapters;
    }

    /**
     * Fresh adapters on embedding tables as PEFT's {@code lora.Embedding} initialises them ({@code reset_lora_parameters}):
     * lora_embedding_A zero, lora_embedding_B standard normal, and for DoRA the magnitude = ‖W[:, h]‖ over the
     * vocabulary (the norm of W + s·(B·A)ᵀ with A = 0).
     */
    @Override
    public Map<String, ModuleAdapter> createEmbeddings(PeftConfig peftConfig, Map<String, Embedding> targets, long seed) {
        AdapterConfig config = (AdapterConfig) peftConfig;
        Map<String, ModuleAdapter> adapters = new LinkedHashMap<>();
        for (var e : targets.entrySet()) {
            String path = e.getKey();
            Embedding table = e.getValue();
            int r = config.rankFor(path), vocab = table.vocabSize(), hidden = table.hiddenSize();
            SplittableRandom rng = new SplittableRandom(seed ^ (long) path.hashCode() * 0x9E3779B97F4A7C15L);
            float[] bv = new float[hidden * r];
            for (int i = 0; i < bv.length; i++) bv[i] = (float) gaussian(rng);
            Tensor a = Tensor.param(new float[r * vocab], r, vocab).named(PeftKeys.embeddingA(path));
            Tensor b = Tensor.param(bv, hidden, r).named(PeftKeys.embeddingB(path));
            float scaling = config.scalingFor(path);
            Tensor magnitude = dora ? Tensor.param(new LoraEmbedding(a, b, null, scaling).weightNorm(table.table()), hidden)
                    .named(PeftKeys.magnitude(path)) : null;
            adapters.put(path, new LoraEmbedding(path, a, b, magnitude, scaling));
        }
        return adapters;
    }

    @Override
    public Map<String, ModuleAdapter> attachEmbeddings(PeftConfig peftConfig, Map<String, ModuleWeights> modules,
            Map<String, Embedding> tables, boolean trainable) {
        AdapterConfig config = (AdapterConfig) peftConfig;
        Map<String, ModuleAdapter> adapters = new LinkedHashMap<>();
        for (var e : tables.entrySet()) {
            String path = e.getKey();
            EmbeddingWeights w = (EmbeddingWeights) modules.get(path);
            if (w.baseCopy() != null) w.checkBase(e.getValue().table().toFloatArray());
            Tensor a = tensor(w.loraA().clone(), trainable, w.rank(), w.vocab()).named(PeftKeys.embeddingA(path));
            Tensor b = tensor(w.loraB().clone(), trainable, w.hidden(), w.rank()).named(PeftKeys.embeddingB(path));
            Tensor m = w.magnitude() != null ? tensor(w.magnitude().clone(), trainable, w.hidden()).named(PeftKeys.magnitude(path)) : null;
            adapters.put(path, new LoraEmbedding(path, a, b, m, config.scalingFor(path)));
        }
        return adapters;
    }

    /** A standard normal draw (Box-Muller), as {@code nn.init.normal_} draws in distribution. */
    private static double gaussian(SplittableRandom rng) {
        double u = rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
    }

    @Override
    public Map<String, ModuleWeights> readModules(PeftConfig peftConfig, Map<String, FileTensor> tensors, Path file) {
        AdapterConfig config = (AdapterConfig) peftConfig;
        Map<String, FileTensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>(), m = new LinkedHashMap<>();
        Map<String, FileTensor> ea = new LinkedHashMap<>(), eb = new LinkedHashMap<>(), baseCopies = new LinkedHashMap<>();
        for (FileTensor t : tensors.values()) {
            String name = t.name();
            String rest = name.substring(PeftKeys.PREFIX.length());
            if (rest.endsWith(PeftKeys.EMBEDDING_A)) {
                ea.put(strip(rest, PeftKeys.EMBEDDING_A), matrix(t, file));
            } else if (rest.endsWith(PeftKeys.EMBEDDING_B)) {
                eb.put(strip(rest, PeftKeys.EMBEDDING_B), matrix(t, file));
            } else if (rest.endsWith(PeftKeys.BASE_LAYER_WEIGHT)) {
                baseCopies.put(strip(rest, PeftKeys.BASE_LAYER_WEIGHT), matrix(t, file));
            } else if (rest.endsWith(PeftKeys.LORA_A)) {
                a.put(strip(rest, PeftKeys.LORA_A), matrix(t, file));
            } else if (rest.endsWith(PeftKeys.LORA_B)) {
                b.put(strip(rest, PeftKeys.LORA_B), matrix(t, file));
            } else if (rest.endsWith(PeftKeys.MAGNITUDE) || rest.endsWith(PeftKeys.MAGNITUDE_WITH_WEIGHT)) {
                if (t.rank() != 1) {
                    throw new DoraException(file + ": tensor '" + name + "' must be 1-D, has shape " + Arrays.toString(t.shape()));
                }
                m.put(strip(strip(rest, ".weight"), PeftKeys.MAGNITUDE), t);
            } else {
                throw new DoraException(file + ": tensor '" + name + "' is not a LoRA/DoRA tensor (lora_A, lora_B, lora_magnitude_vector)"
                        + " nor in a module of modules_to_save " + config.modulesToSave());
            }
        }
        Map<String, ModuleWeights> modules = new LinkedHashMap<>();
        for (String path : a.keySet()) {
            if (!b.containsKey(path)) throw new DoraException(file + ": tensor '" + PeftKeys.loraB(path) + "' is missing");
            long[] as = a.get(path).shape(), bs = b.get(path).shape();
            int rank = (int) as[0], in = (int) as[1], out = (int) bs[0];
            if (bs[1] != rank) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraB(path) + "' has shape " + Arrays.toString(bs)
                        + " but lora_A has rank " + rank);
            }
            int expectedRank = config.rankFor(path);
            if (rank != expectedRank) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' has rank " + rank
                        + " but adapter_config.json gives r = " + expectedRank + " for this module");
            }
            FileTensor mag = m.remove(path);
            if (config.useDora() && mag == null) {
                throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' is missing (use_dora is true)");
            }
            if (!config.useDora() && mag != null) {
                throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' present but use_dora is false");
            }
            if (mag != null && mag.values().length != out) {
                throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' has " + mag.values().length
                        + " entries but lora_B has " + out + " rows");
            }
            modules.put(path, new AdapterWeights(path, a.get(path).values(), b.get(path).values(),
                    mag == null ? null : mag.values(), rank, in, out, scaling(config, path)));
        }
        for (String path : b.keySet()) {
            if (!a.containsKey(path)) throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' is missing");
        }
        embeddings(config, ea, eb, m, baseCopies, file, modules);
        if (!m.isEmpty()) {
            String path = m.keySet().iterator().next();
            throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' has no lora_A/lora_B beside it");
        }
        return modules;
    }

    /** Embedding modules: lora_embedding_A [r, vocab], lora_embedding_B [hidden, r], magnitude [hidden], base copy. */
    private static void embeddings(AdapterConfig config, Map<String, FileTensor> ea, Map<String, FileTensor> eb,
            Map<String, FileTensor> m, Map<String, FileTensor> baseCopies, Path file, Map<String, ModuleWeights> modules) {
        for (String path : ea.keySet()) {
            FileTensor a = ea.get(path), b = eb.remove(path), mag = m.remove(path), copy = baseCopies.remove(path);
            if (b == null) throw new DoraException(file + ": tensor '" + PeftKeys.embeddingB(path) + "' is missing");
            int rank = a.dim(0), vocab = a.dim(1), hidden = b.dim(0);
            if (b.dim(1) != rank || rank != config.rankFor(path)) {
                throw new DoraException(file + ": tensor '" + PeftKeys.embeddingB(path) + "' has shape " + Arrays.toString(b.shape())
                        + " but lora_embedding_A has rank " + rank + " and adapter_config.json gives r = " + config.rankFor(path));
            }
            if (config.useDora() != (mag != null) || (mag != null && mag.dim(0) != hidden)) {
                throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' must be [" + hidden + "] with use_dora true"
                        + " and absent without it");
            }
            if (copy != null && (copy.dim(0) != vocab || copy.dim(1) != hidden)) {
                throw new DoraException(file + ": tensor '" + PeftKeys.PREFIX + path + PeftKeys.BASE_LAYER_WEIGHT + "' has shape "
                        + Arrays.toString(copy.shape()) + " but the adapter is for a table [" + vocab + ", " + hidden + "]");
            }
            modules.put(path, new EmbeddingWeights(path, a.values(), b.values(), mag == null ? null : mag.values(), rank, vocab, hidden,
                    config.scalingFor(path), copy == null ? null : copy.values()));
        }
        if (!eb.isEmpty()) throw new DoraException(file + ": tensor '" + PeftKeys.embeddingA(eb.keySet().iterator().next()) + "' is missing");
        if (!baseCopies.isEmpty()) {
            throw new DoraException(file + ": tensor '" + PeftKeys.PREFIX + baseCopies.keySet().iterator().next()
                    + PeftKeys.BASE_LAYER_WEIGHT + "' is a base-layer copy of a module without lora_embedding_A/B");
        }
    }

    @Override
    public Map<String, Adapter> attach(PeftConfig peftConfig, Map<String, ModuleWeights> modules, Map<String, Linear> layers,
            boolean trainable, long seed) {
        AdapterConfig config = (AdapterConfig) peftConfig;
        Map<String, Adapter> adapters = new LinkedHashMap<>();
        for (String path : layers.keySet()) {
            AdapterWeights w = (AdapterWeights) modules.get(path);
            Tensor a = tensor(w.loraA().clone(), trainable, w.rank(), w.in()).named(PeftKeys.loraA(path));
            Tensor b = tensor(w.loraB().clone(), trainable, w.out(), w.rank()).named(PeftKeys.loraB(path));
            Tensor m = w.isDora() ? tensor(w.magnitude().clone(), trainable, w.out()).named(PeftKeys.magnitude(path)) : null;
            adapters.put(path, new LoraAdapter(path, a, b, m, config.scalingFor(path),
                    trainable ? AdapterInjector.dropout(config, seed, path) : null));
        }
        return adapters;
    }

    /** A and B share a rank; the magnitude (DoRA), if any, has one value per row of B. Names as errors give them. */
    static void checkShapes(String aName, Tensor a, String bName, Tensor b, Tensor magnitude) {
        if (a.rank() != 2 || b.rank() != 2 || a.dim(0) != b.dim(1)) {
            throw new IllegalArgumentException(aName + " " + a + " and " + bName + " " + b + " do not share a rank");
        }
        if (magnitude != null && (magnitude.rank() != 1 || magnitude.dim(0) != b.dim(0))) {
            throw new IllegalArgumentException("magnitude " + magnitude + " does not match " + bName + " " + b);
        }
    }

    /** A (down), B (up) and, for DoRA, the magnitude of the module at {@code path}, as adapters list their tensors. */
    static List<AdapterTensor> tensors(String aKey, Tensor a, String bKey, Tensor b, String path, Tensor magnitude) {
        List<AdapterTensor> list = new ArrayList<>(List.of(new AdapterTensor(aKey, a, AdapterTensor.Group.DOWN),
                new AdapterTensor(bKey, b, AdapterTensor.Group.UP)));
        if (magnitude != null) list.add(new AdapterTensor(PeftKeys.magnitude(path), magnitude, AdapterTensor.Group.MAGNITUDE));
        return list;
    }

    @Override
    public String moduleKey(String path) {
        return PeftKeys.loraA(path);
    }

    /** s = alpha / r, or alpha / sqrt(r) with rsLoRA, in double precision. */
    static double scaling(AdapterConfig config, String path) {
        double alpha = config.alphaFor(path);
        int rank = config.rankFor(path);
        return config.useRslora() ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    private static FileTensor matrix(FileTensor t, Path file) {
        if (t.rank() != 2) {
            throw new DoraException(file + ": tensor '" + t.name() + "' must be 2-D, has shape " + Arrays.toString(t.shape()));
        }
        return t;
    }

    private static Tensor tensor(float[] data, boolean trainable, int... shape) {
        return trainable ? Tensor.param(data, shape) : Tensor.of(data, shape);
    }

    private static String strip(String s, String suffix) {
        return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
    }
}
