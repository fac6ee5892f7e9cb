package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.PickleFormat;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Loads a BERT encoder from a Hugging Face directory (config.json + single or sharded safetensors). Tensor names
 * may carry the {@code bert.} prefix ({@code BertForSequenceClassification}, {@code BertForMaskedLM}) or none
 * ({@code BertModel}, sentence-transformers); either way modules are named with the prefix the caller asks for.
 * Old checkpoints' {@code LayerNorm.gamma}/{@code beta} are read as {@code weight}/{@code bias}. The masked-LM head
 * ({@code cls.*}) and the {@code embeddings.position_ids} buffer are ignored; {@code classifier.*} is kept as
 * {@link BertModel#classifierWeight()}; any other tensor the model does not use is an error.
 */
public final class BertLoader {
    private static final String WITH_PREFIX = "bert.";
    private static final String CLASSIFIER_PREFIX = BertModel.CLASSIFIER + ".";

    private BertLoader() {}

    /** Loads {@code dir}, naming modules as the checkpoint does. */
    public static BertModel load(Path dir) {
        return load(dir, LinearStorage.AS_STORED);
    }

    /** As {@link #load(Path)}, with the encoder layers' linear weights kept as {@code storage} says. */
    public static BertModel load(Path dir, LinearStorage storage) {
        checkDirectory(dir);
        try (ShardedSafetensors st = ShardedSafetensors.open(dir)) {
            return build(dir, st, null, storage);
        }
    }

    /**
     * The encoder in {@code dir} with, when {@code adapterDir} is not null, that PEFT adapter attached unmerged. A
     * sequence-classification adapter names the encoder's modules {@code bert.…} (BertForSequenceClassification); the
     * model's modules are then named with that prefix.
     */
    public static BertModel loadWithAdapter(Path dir, Path adapterDir, LinearStorage storage) {
        AdapterFiles.Loaded loaded = adapterDir == null ? null : AdapterFiles.read(adapterDir);
        boolean prefixed = loaded != null && loaded.modules().keySet().stream().allMatch(k -> k.startsWith(WITH_PREFIX));
        BertModel bert = load(dir, prefixed ? WITH_PREFIX : "", storage);
        if (loaded != null) AdapterInjector.attach(bert.linears(), loaded, BertModel.CLASSIFIER, false, 0);
        return bert;
    }

    /** Loads {@code dir} and names modules and tensors with {@code prefix}: {@code ""} or {@code "bert."}. */
    public static BertModel load(Path dir, String prefix) {
        return load(dir, prefix, LinearStorage.AS_STORED);
    }

    /** As {@link #load(Path, String)}, with the encoder layers' linear weights kept as {@code storage} says. */
    public static BertModel load(Path dir, String prefix, LinearStorage storage) {
        if (!prefix.isEmpty() && !prefix.equals(WITH_PREFIX)) {
            throw new IllegalArgumentException("prefix must be \"\" or \"" + WITH_PREFIX + "\", got \"" + prefix + "\"");
        }
        checkDirectory(dir);
        try (ShardedSafetensors st = ShardedSafetensors.open(dir)) {
            return build(dir, st, prefix, storage);
        }
    }

    private static void checkDirectory(Path dir) {
        if (Files.isRegularFile(dir)) {
            if (PickleFormat.looksLikePickle(dir)) throw new DoraException(dir + ": is a PyTorch checkpoint; " + PickleFormat.ADVICE);
            throw new DoraException(dir + ": not a model directory");
        }
        if (!Files.isDirectory(dir)) throw new DoraException(dir + ": model not found");
        for (String pickle : List.of("pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin", "model.pt")) {
            if (Files.exists(dir.resolve(pickle)) && !Files.exists(dir.resolve(ShardedSafetensors.SINGLE_FILE))
                    && !Files.exists(dir.resolve(ShardedSafetensors.INDEX_FILE))) {
                throw new DoraException(dir.resolve(pickle) + ": " + PickleFormat.ADVICE);
            }
        }
    }

    // prefix null: the checkpoint's own
    private static BertModel build(Path dir, ShardedSafetensors st, String requestedPrefix, LinearStorage storage) {
        BertConfig c = BertConfig.read(dir.resolve("config.json"));
        Names names = new Names(dir, st, storage);
        String prefix = requestedPrefix != null ? requestedPrefix : names.filePrefix;
        int h = c.hiddenSize(), ff = c.intermediateSize();
        String e = "embeddings.";
        Tensor word = names.read(prefix, e + "word_embeddings.weight", c.vocabSize(), h);
        Tensor position = names.read(prefix, e + "position_embeddings.weight", c.maxPositionEmbeddings(), h);
        Tensor tokenType = names.read(prefix, e + "token_type_embeddings.weight", c.typeVocabSize(), h);
        Tensor normWeight = names.read(prefix, e + "LayerNorm.weight", h);
        Tensor normBias = names.read(prefix, e + "LayerNorm.bias", h);
        List<BertLayer> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "encoder.layer." + i + ".";
            layers.add(new BertLayer(c,
                    names.linear(prefix, p + "attention.self.query", h, h),
                    names.linear(prefix, p + "attention.self.key", h, h),
                    names.linear(prefix, p + "attention.self.value", h, h),
                    names.linear(prefix, p + "attention.output.dense", h, h),
                    names.read(prefix, p + "attention.output.LayerNorm.weight", h),
                    names.read(prefix, p + "attention.output.LayerNorm.bias", h),
                    names.linear(prefix, p + "intermediate.dense", ff, h),
                    names.linear(prefix, p + "output.dense", h, ff),
                    names.read(prefix, p + "output.LayerNorm.weight", h),
                    names.read(prefix, p + "output.LayerNorm.bias", h)));
        }
        Linear pooler = names.has("pooler.dense.weight") || names.has("pooler.dense.bias")
                ? names.linear(prefix, "pooler.dense", h, h) : null;
        Tensor classifierWeight = null, classifierBias = null;
        if (st.contains("classifier.weight") || st.contains("classifier.bias")) {
            if (!st.contains("classifier.weight")) names.missing("classifier.weight");
            long[] shape = st.info("classifier.weight").shape();
            if (shape.length != 2 || shape[1] != h || shape[0] <= 0 || shape[0] > Integer.MAX_VALUE) {
                throw new DoraException(st.fileOf("classifier.weight").path() + ": tensor 'classifier.weight' has shape "
                        + Arrays.toString(shape) + " but a classifier over hidden_size " + h + " is [labels, " + h + "]");
            }
            int labels = (int) shape[0];
            if (c.numLabels() > 0 && c.numLabels() != labels) {
                throw new DoraException(st.fileOf("classifier.weight").path() + ": tensor 'classifier.weight' has " + labels
                        + " rows but config.json has " + c.numLabels() + " labels");
            }
            classifierWeight = names.source.read("classifier.weight", labels, h);
            if (!st.contains("classifier.bias")) names.missing("classifier.bias");
            classifierBias = names.source.read("classifier.bias", labels);
        }
        List<String> unknown = new ArrayList<>();
        for (String n : names.source.unused()) {
            String bare = n.startsWith(WITH_PREFIX) ? n.substring(WITH_PREFIX.length()) : n;
            if (n.startsWith(CLASSIFIER_PREFIX) || bare.startsWith("cls.") || bare.equals("embeddings.position_ids")) continue;
            unknown.add(n);
        }
        if (!unknown.isEmpty()) {
            throw new DoraException(names.where() + ": " + unknown.size() + " tensor(s) not part of a bert model with this config: "
                    + String.join(", ", unknown.subList(0, Math.min(8, unknown.size())))
                    + (unknown.size() > 8 ? ", ..." : ""));
        }
        return new BertModel(c, prefix, word, position, tokenType, normWeight, normBias, layers, pooler,
                classifierWeight, classifierBias);
    }

    /** Finds each tensor under either naming (with or without {@code bert.}, LayerNorm weight/bias or gamma/beta). */
    private static final class Names {
        final Path dir;
        final ShardedSafetensors st;
        final LlamaLoader.SafetensorsSource source;
        final LinearStorage storage;
        /** The checkpoint's own prefix: "bert." when any tensor name has it. */
        final String filePrefix;

        Names(Path dir, ShardedSafetensors st, LinearStorage storage) {
            this.storage = storage;
            this.dir = dir;
            this.st = st;
            this.source = new LlamaLoader.SafetensorsSource(st);
            this.filePrefix = st.names().stream().anyMatch(n -> n.startsWith(WITH_PREFIX)) ? WITH_PREFIX : "";
        }

        String where() {
            return st.isSharded() ? dir.resolve(ShardedSafetensors.INDEX_FILE).toString()
                    : dir.resolve(ShardedSafetensors.SINGLE_FILE).toString();
        }

        /** The stored name of {@code name} (given without prefix), or null. */
        String stored(String name) {
            for (String candidate : candidates(name)) if (st.contains(candidate)) return candidate;
            return null;
        }

        boolean has(String name) {
            return stored(name) != null;
        }

        private List<String> candidates(String name) {
            List<String> out = new ArrayList<>(List.of(filePrefix + name));
            if (name.endsWith("LayerNorm.weight")) out.add(filePrefix + name.replaceAll("weight$", "gamma"));
            if (name.endsWith("LayerNorm.bias")) out.add(filePrefix + name.replaceAll("bias$", "beta"));
            return out;
        }

        void missing(String name) {
            String stored = name.startsWith(CLASSIFIER_PREFIX) ? name : filePrefix + name;
            throw new DoraException(where() + ": tensor '" + stored + "' is missing (config.json describes a bert model"
                    + " that needs it)");
        }

        Tensor read(String prefix, String name, int... shape) {
            String s = stored(name);
            if (s == null) missing(name);
            return source.read(s, shape).named(prefix + name);
        }

        Linear linear(String prefix, String path, int out, int in) {
            String w = stored(path + ".weight");
            if (w == null) missing(path + ".weight");
            Tensor weight = storage.apply(source.readLinearWeight(w, out, in)).named(prefix + path + ".weight");
            Tensor bias = read(prefix, path + ".bias", out);
            return new Linear(prefix + path, weight, bias);
        }
    }
}
