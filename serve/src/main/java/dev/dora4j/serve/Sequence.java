package dev.dora4j.serve;

import dev.dora4j.generate.Sampler;
import dev.dora4j.model.KvCache;
import dev.dora4j.tokenizer.StreamDecoder;
import dev.dora4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One generation request inside the engine: its prompt, adapter, sampling and stop rules, its KV cache while it
 * runs, and the events its handler reads. Fields other than {@link #cancel} belong to the engine thread.
 */
final class Sequence {
    final int[] prompt;
    final ServedAdapter adapter;
    final int maxTokens;
    final int capacity;
    final Sampler sampler;
    final List<String> stop;
    final long deadlineNanos;
    final long createdNanos = System.nanoTime();
    final BlockingQueue<SequenceEvent> events = new LinkedBlockingQueue<>();
    private final Tokenizer tokenizer;
    private final StreamDecoder decoder;
    private final int eosId;
    private final StringBuilder text = new StringBuilder();
    private final int holdBack;
    private int emitted;
    final List<Integer> generated = new ArrayList<>();
    KvCache cache;
    /** Prompt tokens already in the cache. */
    int prefilled;
    long lastTokenNanos;
    private volatile String cancelled;

    Sequence(int[] prompt, ServedAdapter adapter, int maxTokens, int capacity, Sampler sampler, List<String> stop,
            long deadlineNanos, Tokenizer tokenizer) {
        this.prompt = prompt;
        this.adapter = adapter;
        this.maxTokens = maxTokens;
        this.capacity = capacity;
        this.sampler = sampler;
        this.stop = List.copyOf(stop);
        this.deadlineNanos = deadlineNanos;
        this.tokenizer = tokenizer;
        this.decoder = tokenizer.streamDecoder();
        this.eosId = tokenizer.eosId();
        int longest = 0;
        for (String s : stop) longest = Math.max(longest, s.length());
        this.holdBack = Math.max(0, longest - 1);
    }

    /** Asks the engine to drop this sequence at its next step (client gone, timeout); frees its cache there. */
    void cancel(String why) {
        cancelled = why;
    }

    String cancelled() {
        return cancelled;
    }

    boolean prefilling() {
        return prefilled < prompt.length;
    }

    /** The token the next decode row feeds: the last generated one. */
    int lastToken() {
        return generated.getLast();
    }

    /**
     * Takes the sampled {@code token}; returns the finish reason when the sequence ends with it, else null.
     * Text is released as it is known not to be the start of a stop string.
     */
    String accept(int token) {
        generated.add(token);
        lastTokenNanos = System.nanoTime();
        if (token == eosId) {
            release(text.length(), token);
            return "stop";
        }
        text.append(decoder.next(token));
        for (String s : stop) {
            int at = text.indexOf(s, Math.max(0, emitted - s.length()));
            if (at >= 0) {
                text.setLength(at);
                release(Math.max(emitted, at), token);
                return "stop";
            }
        }
        boolean full = generated.size() >= maxTokens || prompt.length + generated.size() >= capacity;
        if (full) text.append(decoder.flush());
        release(full ? text.length() : Math.max(emitted, text.length() - holdBack), token);
        return full ? "length" : null;
    }

    private void release(int upTo, int token) {
        events.add(new SequenceEvent.Delta(text.substring(emitted, Math.max(emitted, upTo)), token));
        emitted = Math.max(emitted, upTo);
    }

    /** The whole generated text as {@code generate} prints it, cut at a stop string. */
    String finalText() {
        int[] ids = generated.stream().mapToInt(Integer::intValue).toArray();
        String all = tokenizer.decode(ids);
        for (String s : stop) {
            int at = all.indexOf(s);
            if (at >= 0) all = all.substring(0, at);
        }
        return all;
    }
}
