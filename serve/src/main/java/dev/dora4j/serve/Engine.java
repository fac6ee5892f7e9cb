package dev.dora4j.serve;

import dev.dora4j.model.CausalLM;
import dev.dora4j.model.KvCache;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching over one causal LM: one thread runs decode steps; between steps waiting requests join (while
 * sequences, tokens and KV memory allow) and finished or cancelled ones leave. A step feeds every decoding sequence
 * its last token and fills the rest of the token budget with chunks of prompts still being read, rows grouped by
 * adapter so that {@link MixedLinearForward} shares the base product and adds each group's delta.
 */
public final class Engine implements AutoCloseable {
    /** Thrown by {@link #submit} when the queue is full: answered with 429. */
    static final class QueueFull extends RuntimeException {
        QueueFull(String message) {
            super(message);
        }
    }

    private final CausalLM model;
    private final EngineSettings settings;
    private final ServeMetrics metrics;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private final Thread thread;
    private long reservedBytes;
    private volatile boolean accepting = true;
    private volatile boolean stopped;

    public Engine(CausalLM model, EngineSettings settings, ServeMetrics metrics) {
        this.model = model;
        this.settings = settings;
        this.metrics = metrics;
        this.thread = Thread.ofPlatform().name("dora4j-engine").daemon(true).unstarted(this::loop);
        metrics.gauges(this::waitingCount, this::runningCount);
        thread.start();
    }

    public CausalLM model() {
        return model;
    }

    public EngineSettings settings() {
        return settings;
    }

    /** The KV bytes a sequence of {@code capacity} positions reserves. */
    long cacheBytes(int capacity) {
        return model.cacheBytes(capacity);
    }

    /** Queues {@code s}; {@link QueueFull} when the queue is full or the engine no longer accepts work. */
    void submit(Sequence s) {
        lock.lock();
        try {
            if (!accepting) throw new QueueFull("the server is shutting down");
            if (waiting.size() >= settings.maxQueue()) {
                throw new QueueFull("the server is busy: " + waiting.size() + " requests are waiting; retry later");
            }
            waiting.addLast(s);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    int waitingCount() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    int runningCount() {
        lock.lock();
        try {
            return running.size();
        } finally {
            lock.unlock();
        }
    }

    /** Stops taking requests, lets queued and running ones finish for up to {@code timeoutMillis}, then stops. */
    public void drain(long timeoutMillis) throws InterruptedException {
        accepting = false;
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        lock.lock();
        try {
            while ((!waiting.isEmpty() || !running.isEmpty()) && System.nanoTime() < end) {
                changed.awaitNanos(Math.max(1, Math.min(end - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(100))));
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        accepting = false;
        stopped = true;
        thread.interrupt();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lock.lock();
        try {
            for (Sequence s : waiting) s.events.add(new SequenceEvent.Failed(503, "server_error", "the server stopped"));
            for (Sequence s : running) s.events.add(new SequenceEvent.Failed(503, "server_error", "the server stopped"));
            waiting.clear();
            running.clear();
        } finally {
            lock.unlock();
        }
    }

    private void loop() {
        while (!stopped) {
            List<Sequence> batch;
            lock.lock();
            try {
                dropCancelled();
                admit();
                if (running.isEmpty()) {
                    changed.awaitNanos(TimeUnit.MILLISECONDS.toNanos(50));
                    continue;
                }
                batch = new ArrayList<>(running);
            } catch (InterruptedException e) {
                if (stopped) return;
                continue;
            } finally {
                lock.unlock();
            }
            try {
                step(batch);
            } catch (RuntimeException | Error e) {
                fail(batch, e);
            }
        }
    }

    // under the lock: waiting requests join while the sequence count and the KV memory allow, first come first served
    private void admit() {
        while (!waiting.isEmpty() && running.size() < settings.maxSequences()) {
            Sequence s = waiting.peekFirst();
            if (s.cancelled() != null) {
                waiting.pollFirst();
                continue;
            }
            long bytes = cacheBytes(s.capacity);
            if (reservedBytes + bytes > settings.kvCacheBytes() && !running.isEmpty()) break;
            waiting.pollFirst();
            reservedBytes += bytes;
            s.cache = model.newCache(s.capacity);
            running.add(s);
            metrics.queueWait(System.nanoTime() - s.createdNanos);
        }
    }

    // under the lock: cancelled and timed-out sequences leave, waiting ones included
    private void dropCancelled() {
        long now = System.nanoTime();
        for (Sequence s : List.copyOf(waiting)) {
            if (now - s.deadlineNanos > 0) s.cancel("timeout");
            if (s.cancelled() != null) {
                waiting.remove(s);
                s.events.add(timeout(s));
            }
        }
        for (Sequence s : List.copyOf(running)) {
            if (now - s.deadlineNanos > 0) s.cancel("timeout");
            if (s.cancelled() != null) {
                s.events.add(timeout(s));
                finish(s);
            }
        }
    }

    private static SequenceEvent timeout(Sequence s) {
        return "timeout".equals(s.cancelled())
                ? new SequenceEvent.Failed(504, "timeout", "the request did not finish within the server's request timeout")
                : new SequenceEvent.Failed(499, "cancelled", "the request was cancelled: " + s.cancelled());
    }

    // under the lock or from the engine thread with it held: the sequence leaves and its KV memory is freed
    private void finish(Sequence s) {
        running.remove(s);
        if (s.cache != null) {
            reservedBytes -= cacheBytes(s.capacity);
            s.cache = null;
        }
        changed.signalAll();
    }

    private void step(List<Sequence> batch) {
        // decoding rows first (one token each), then prompt chunks in the rest of the budget
        int budget = settings.maxBatchTokens();
        List<Sequence> chosen = new ArrayList<>();
        List<Integer> rowsOf = new ArrayList<>();
        for (Sequence s : batch) {
            if (!s.prefilling() && budget > 0) {
                chosen.add(s);
                rowsOf.add(1);
                budget--;
            }
        }
        for (Sequence s : batch) {
            if (s.prefilling() && budget > 0) {
                int n = Math.min(budget, s.prompt.length - s.prefilled);
                chosen.add(s);
                rowsOf.add(n);
                budget -= n;
            }
        }
        Integer[] order = new Integer[chosen.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparing(i -> adapterKey(chosen.get(i))));
        int rows = 0, prefillRows = 0;
        for (int i = 0; i < chosen.size(); i++) {
            rows += rowsOf.get(i);
            if (chosen.get(i).prefilling()) prefillRows += rowsOf.get(i);
        }
        int[] ids = new int[rows], rowCounts = new int[order.length];
        List<KvCache> caches = new ArrayList<>(order.length);
        List<Integer> groupStarts = new ArrayList<>();
        List<ServedAdapter> groupAdapters = new ArrayList<>();
        int row = 0;
        String lastKey = null;
        for (int k = 0; k < order.length; k++) {
            Sequence s = chosen.get(order[k]);
            int n = rowsOf.get(order[k]);
            String key = adapterKey(s);
            if (!key.equals(lastKey)) {
                groupStarts.add(row);
                groupAdapters.add(s.adapter);
                lastKey = key;
            }
            if (s.prefilling()) System.arraycopy(s.prompt, s.prefilled, ids, row, n);
            else ids[row] = s.lastToken();
            rowCounts[k] = n;
            caches.add(s.cache);
            row += n;
        }
        MixedLinearForward linears = new MixedLinearForward(groupStarts.stream().mapToInt(Integer::intValue).toArray(),
                groupAdapters.toArray(new ServedAdapter[0]));
        long start = System.nanoTime();
        float[] logits = model.decode(ids, caches, rowCounts, linears);
        long stepNanos = System.nanoTime() - start;
        int vocab = model.vocabSize(), sampled = 0;
        for (int k = 0; k < order.length; k++) {
            Sequence s = chosen.get(order[k]);
            if (s.prefilling()) {
                s.prefilled += rowCounts[k];
                if (s.prefilling()) continue;
                metrics.timeToFirstToken(System.nanoTime() - s.createdNanos);
            } else {
                metrics.interTokenLatency(System.nanoTime() - s.lastTokenNanos);
            }
            int token = s.sampler.sample(Arrays.copyOfRange(logits, k * vocab, (k + 1) * vocab));
            sampled++;
            String reason = s.accept(token);
            if (reason != null) {
                s.events.add(new SequenceEvent.Done(reason, s.prompt.length, s.generated.size()));
                lock.lock();
                try {
                    finish(s);
                } finally {
                    lock.unlock();
                }
            }
        }
        metrics.step(prefillRows, sampled, stepNanos);
    }

    private static String adapterKey(Sequence s) {
        return s.adapter == null ? "" : "/" + s.adapter.name();
    }

    private void fail(List<Sequence> batch, Throwable e) {
        String message = "generation failed: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        lock.lock();
        try {
            for (Sequence s : batch) {
                if (!running.contains(s)) continue;
                s.events.add(new SequenceEvent.Failed(500, "server_error", message));
                finish(s);
            }
        } finally {
            lock.unlock();
        }
    }
}
