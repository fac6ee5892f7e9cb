package dev.dora4j.train;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.dora4j.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.util.Collection;

/**
 * Fits the collector's soft heap limit ({@code -XX:SoftMaxHeapSize}, which ZGC keeps the heap under while it can) to
 * what a training run actually holds, so the resident size follows the work instead of a fixed guess.
 *
 * <p>The most a step holds is at the end of its forward pass: every activation backward will read, before backward
 * starts giving them back. At that point, the first time and again whenever a batch has at least 10 % more tokens than
 * any measured before, a full collection is run and the heap in use after it (the live set: weights, optimizer state,
 * activations) is read; the soft limit becomes {@code 1.1 × live + 192 MB}, at most {@code live + 2 GB} (a large live
 * set is mostly frozen weights, which make no garbage: an 8B model in BF16 holds 16 GB of them) and never more than the
 * maximum heap. The headroom is small because a step makes little garbage: its ops take their buffers from a
 * {@link dev.dora4j.tensor.BufferPool} and backward gives them back. Until that first measurement (model building or
 * loading, the first forward pass) the limit is the weights' size + 192 MB ({@link #beforeTraining}). On the 'base'
 * Llama of 134M parameters (bench/performance.md) this holds a DoRA step at about 1.5 GB resident against 2.0-2.15 GB
 * with a 1.25 × live + 384 MB limit and steps that allocated every buffer, at the same speed. Measuring costs one full
 * collection.
 *
 * <p>A run with activation checkpointing has asked for memory before speed, and its step keeps little besides the
 * weights: there the limit is {@code live + 256 MB}.
 *
 * <p>Off unless the system property {@code dora4j.heap} is {@code auto} (the launcher sets it); with any other
 * value, or a JVM whose soft limit cannot be changed at run time, nothing is done.
 */
public final class HeapBudget {
    /** The system property that turns fitting on with the value {@code auto}. */
    public static final String PROPERTY = "dora4j.heap";
    private static final double LIVE_FACTOR = 1.1;
    private static final long MARGIN_BYTES = 192L << 20;
    private static final long MAX_HEADROOM_BYTES = 2048L << 20;
    private static final long RECOMPUTING_HEADROOM_BYTES = 256L << 20;

    private static long measuredTokens;
    private static long softMaxBytes = -1;
    private static boolean failed;
    private static boolean recomputing;

    private HeapBudget() {}

    /**
     * Before a training run's first step, with its model built or loaded (or about to be) holding {@code weights}: the
     * soft limit becomes their size + 192 MB until the first forward pass measures the live set, so
     * neither the conversions of loading (each matrix widened and quantised in turn) nor the first step, which has no
     * buffers to reuse yet, grow the heap past what the run will hold. {@code recomputingRun}: the run recomputes
     * activations in backward (activation checkpointing), and the tighter limit applies.
     */
    public static void beforeTraining(Collection<Tensor> weights, boolean recomputingRun) {
        long bytes = 0;
        for (Tensor t : weights) bytes += t.bytes();
        beforeTraining(bytes, recomputingRun);
    }

    /** As {@link #beforeTraining(Collection, boolean)}, with the weights' size given. */
    public static synchronized void beforeTraining(long weightBytes, boolean recomputingRun) {
        recomputing = recomputingRun;
        if (failed || !"auto".equals(System.getProperty(PROPERTY))) return;
        setSoftMax(Math.min(Runtime.getRuntime().maxMemory(), weightBytes + MARGIN_BYTES));
    }

    private static void setSoftMax(long target) {
        try {
            ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .setVMOption("SoftMaxHeapSize", Long.toString(target));
            softMaxBytes = target;
        } catch (RuntimeException e) {
            failed = true;
        }
    }

    /** Called with the batch's token count when a forward pass has finished and its backward is about to run. */
    public static synchronized void atForwardEnd(long tokens) {
        if (failed || !"auto".equals(System.getProperty(PROPERTY)) || tokens * 10 < measuredTokens * 11) return;
        measuredTokens = tokens;
        System.gc();
        long live = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long max = Runtime.getRuntime().maxMemory();
        long target = recomputing ? Math.min(max, live + RECOMPUTING_HEADROOM_BYTES) : target(live, max);
        setSoftMax(target);
    }

    /**
     * The next forward pass measures the live set again, whatever its token count: for a process that builds more
     * models after the first one measured (a comparison of storages or methods, each model with its own buffers).
     */
    static synchronized void measureAgain() {
        measuredTokens = 0;
    }

    /** The soft heap limit for a live set of {@code liveBytes}: 1.1 × live + 192 MB, at most live + 2 GB and max. */
    static long target(long liveBytes, long maxBytes) {
        long fitted = Math.min((long) (liveBytes * LIVE_FACTOR) + MARGIN_BYTES, liveBytes + MAX_HEADROOM_BYTES);
        return Math.min(maxBytes, fitted);
    }

    /** The soft heap limit set last, in MB, or NaN when none has been set. */
    public static synchronized double softMaxMb() {
        return softMaxBytes < 0 ? Double.NaN : softMaxBytes / 1048576.0;
    }
}
