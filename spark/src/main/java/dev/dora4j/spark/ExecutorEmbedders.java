package dev.dora4j.spark;

import dev.dora4j.DoraException;
import dev.dora4j.eval.SentenceEmbeddings;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.model.ModelTypes;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One embedding model per executor JVM and job settings, loaded when the JVM's first task needs it and kept for the
 * JVM's later tasks; tasks of one JVM take turns on it (each forward pass already uses every core).
 */
final class ExecutorEmbedders {
    private static final Map<EmbeddingJob, SentenceEmbeddings> LOADED = new ConcurrentHashMap<>();

    private ExecutorEmbedders() {}

    static float[][] embed(EmbeddingJob job, List<String> texts) {
        SentenceEmbeddings e = LOADED.computeIfAbsent(job.withFaultInPartition(-1), ExecutorEmbedders::load);
        synchronized (e) {
            return e.embed(texts, job.batch());
        }
    }

    private static SentenceEmbeddings load(EmbeddingJob job) {
        Path model = Path.of(job.model());
        String type = ModelTypes.modelType(model);
        if (!type.equals("bert")) throw new DoraException(model.resolve("config.json") + ": model_type '" + type + "'; embed needs a BERT encoder");
        BertModel bert = BertLoader.loadWithAdapter(model, job.adapter() == null ? null : Path.of(job.adapter()), job.storage());
        return new SentenceEmbeddings(bert, Tokenizers.load(model, job.tokenizer() == null ? null : Path.of(job.tokenizer())),
                job.pooling());
    }
}
