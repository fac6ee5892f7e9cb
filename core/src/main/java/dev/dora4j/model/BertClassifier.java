package dev.dora4j.model;

import dev.dora4j.autograd.Tape;
import dev.dora4j.DoraException;
import dev.dora4j.autograd.EncoderOps;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Sequence classification on a BERT encoder, as transformers' {@code BertForSequenceClassification}: a pooled sentence
 * vector, then a linear {@code classifier} to one logit per label, trained with the mean cross-entropy. Pooling is
 * {@code cls} (the first token through the pretrained pooler, transformers' choice) for models that have a pooler, and
 * {@code mean} (the mean of the last hidden states over the sequence, as sentence-transformers pools models such as
 * all-MiniLM-L6-v2, which ship no pooler) otherwise. transformers' classifier dropout is not applied.
 */
public final class BertClassifier {
    public static final String HEAD = BertModel.CLASSIFIER;

    private final BertModel bert;
    private final Linear head;
    private final String pooling;
    private final List<String> labels;

    public BertClassifier(BertModel bert, Linear head, String pooling, List<String> labels) {
        if (!pooling.equals("mean") && !pooling.equals("cls")) {
            throw new IllegalArgumentException("pooling must be mean or cls, got " + pooling);
        }
        if (head.outFeatures() != labels.size() || head.inFeatures() != bert.config().hiddenSize()) {
            throw new IllegalArgumentException("classifier " + head.weight() + " does not map hidden size "
                    + bert.config().hiddenSize() + " to " + labels.size() + " labels");
        }
        this.bert = bert;
        this.head = head;
        this.pooling = pooling;
        this.labels = List.copyOf(labels);
    }

    /**
     * A classifier over {@code labels}: the model directory's own {@code classifier} weights when it has them with
     * that many labels, else a new head initialised as transformers does (weights normal with standard deviation
     * {@code initializer_range}, bias zero) from {@code seed}.
     */
    public static BertClassifier create(BertModel bert, List<String> labels, String pooling, long seed) {
        int hidden = bert.config().hiddenSize(), n = labels.size();
        Tensor w = bert.classifierWeight(), b = bert.classifierBias();
        if (w == null || w.dim(0) != n || w.dim(1) != hidden || b == null) {
            float[] data = new float[n * hidden];
            SplittableRandom random = new SplittableRandom(seed ^ 0x636c617373L);
            double std = bert.config().initializerRange();
            for (int i = 0; i < data.length; i++) data[i] = (float) (gaussian(random) * std);
            w = Tensor.of(data, n, hidden);
            b = Tensor.of(new float[n], n);
        }
        return new BertClassifier(bert, new Linear(HEAD, w, b), pooling == null ? defaultPooling(bert) : pooling, labels);
    }

    /**
     * A trained classifier for inference: the BERT model in {@code modelDir} with, when {@code adapterDir} is given, that
     * PEFT adapter attached unmerged and its saved {@code classifier} head; otherwise the model directory's own head.
     * Labels and pooling come from {@link ClassifierInfo} beside the head ({@code pooling} overrides when not null).
     */
    public static BertClassifier load(Path modelDir, Path adapterDir, String pooling) {
        return load(modelDir, adapterDir, pooling, LinearStorage.AS_STORED);
    }

    /** As {@link #load(Path, Path, String)}, with the encoder's linear weights kept as {@code storage} says. */
    public static BertClassifier load(Path modelDir, Path adapterDir, String pooling, LinearStorage storage) {
        BertModel bert = BertLoader.load(modelDir, "bert.", storage);
        Path headDir = adapterDir != null ? adapterDir : modelDir;
        ClassifierInfo info = ClassifierInfo.read(headDir);
        if (info == null) {
            throw new DoraException(headDir.resolve(ClassifierInfo.FILE_NAME) + ": not found; the labels of the "
                    + "classifier's outputs are unknown");
        }
        Tensor w, b;
        if (adapterDir != null) {
            var loaded = AdapterFiles.read(adapterDir);
            AdapterInjector.attach(bert.linears(), loaded, HEAD, false, 0);
            var sw = loaded.saved().get(HEAD + ".weight");
            var sb = loaded.saved().get(HEAD + ".bias");
            if (sw == null || sb == null || sw.shape().length != 2) {
                throw new DoraException(adapterDir + ": the adapter holds no classifier head ("
                        + PeftKeys.PREFIX + HEAD + ".weight and .bias)");
            }
            w = Tensor.of(sw.values(), (int) sw.shape()[0], (int) sw.shape()[1]);
            b = Tensor.of(sb.values(), sb.values().length);
        } else {
            w = bert.classifierWeight();
            b = bert.classifierBias();
            if (w == null || b == null) throw new DoraException(modelDir + ": the model has no classifier head");
        }
        if (w.dim(0) != info.labels().size()) {
            throw new DoraException(headDir + ": the classifier has " + w.dim(0) + " outputs but "
                    + ClassifierInfo.FILE_NAME + " names " + info.labels().size() + " labels");
        }
        String p = pooling != null ? pooling : info.pooling() != null ? info.pooling() : defaultPooling(bert);
        return new BertClassifier(bert, new Linear(HEAD, w, b), p, info.labels());
    }

    /** {@code cls} when the model has a pretrained pooler, {@code mean} otherwise. */
    public static String defaultPooling(BertModel bert) {
        return bert.hasPooler() ? "cls" : "mean";
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller from two uniforms in (0, 1]
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2.0 * Math.PI * v);
    }

    public BertModel bert() {
        return bert;
    }

    public Linear head() {
        return head;
    }

    public String pooling() {
        return pooling;
    }

    public List<String> labels() {
        return labels;
    }

    /** The head's tensors by their module-relative names ({@code classifier.weight}, {@code classifier.bias}). */
    public Map<String, Tensor> headTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(HEAD + ".weight", head.weight());
        m.put(HEAD + ".bias", head.bias());
        return m;
    }

    /** Sequences packed end to end ({@code offsets}: batch + 1 entries) -> logits [batch, labels]. */
    public Tensor logits(Tape tape, int[] ids, int[] offsets) {
        Tensor h = bert.hidden(tape, ids, null, offsets);
        Tensor pooled = bert.pool(tape, h, offsets, pooling);
        return head.forward(tape, pooled);
    }

    /** The summed cross-entropy of the sequences' labels divided by {@code normalizer}. */
    public Tensor loss(Tape tape, int[] ids, int[] offsets, int[] targets, float normalizer) {
        return EncoderOps.crossEntropy(tape, logits(tape, ids, offsets), targets, normalizer);
    }
}
