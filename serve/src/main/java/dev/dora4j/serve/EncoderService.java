package dev.dora4j.serve;

import dev.dora4j.eval.SentenceEmbeddings;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sentence embeddings from a BERT-family encoder, as {@code dora4j embed} computes them (mean pooling, L2
 * normalised), with the base model or an adapter applied unmerged for the duration of a request. Requests run one
 * at a time.
 */
final class EncoderService {
    private final BertModel model;
    private final Tokenizer tokenizer;
    private final String pooling;
    private final Map<String, AdapterFiles.Loaded> adapters = new ConcurrentHashMap<>();
    private final ReentrantLock lock = new ReentrantLock();

    EncoderService(Path dir, Tokenizer tokenizer, String pooling) {
        this.model = BertLoader.load(dir);
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        new SentenceEmbeddings(model, tokenizer, pooling);
    }

    /** Reads and checks the adapter in {@code dir} against the encoder (attached once and taken off again). */
    void load(String name, Path dir) {
        AdapterFiles.Loaded loaded = AdapterFiles.read(dir);
        lock.lock();
        try {
            AdapterInjector.attach(model.linears(), loaded, BertModel.CLASSIFIER, false, 0);
            detach();
        } finally {
            lock.unlock();
        }
        adapters.put(name, loaded);
    }

    void unload(String name) {
        adapters.remove(name);
    }

    int tokens(String text) {
        return new SentenceEmbeddings(model, tokenizer, pooling).tokens(text).length;
    }

    /** The normalised embedding of every text with the adapter {@code adapter} (null = the base encoder). */
    float[][] embed(List<String> texts, String adapter, long timeoutMillis) throws InterruptedException {
        if (!lock.tryLock(timeoutMillis, TimeUnit.MILLISECONDS)) {
            throw new ApiError(503, "server_error", null, "busy", "the encoder was busy for the whole request timeout");
        }
        try {
            if (adapter != null) AdapterInjector.attach(model.linears(), adapters.get(adapter), BertModel.CLASSIFIER, false, 0);
            return new SentenceEmbeddings(model, tokenizer, pooling).embed(texts);
        } finally {
            detach();
            lock.unlock();
        }
    }

    private void detach() {
        for (Linear l : model.linears().values()) l.adapter(null);
    }
}
