package dev.dora4j.kernel;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * The one shared thread pool that every parallel kernel uses.
 *
 * <p>With {@code threads() == t} a parallel call keeps exactly {@code t} threads busy: the calling thread runs the
 * first chunk itself and a pool of {@code t - 1} workers runs the rest. A call made from inside a chunk (by a pool
 * worker or by the calling thread while it runs its own chunk) runs inline, so nested parallel kernels never
 * deadlock and never oversubscribe the cores.
 */
public final class Parallel {
    /** A body that handles the half-open index range [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private record Pool(int threads, ForkJoinPool workers) {}

    private static final ThreadLocal<boolean[]> INSIDE = ThreadLocal.withInitial(() -> new boolean[1]);

    private static volatile Pool pool = create(defaultThreads());

    private Parallel() {}

    private static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    private static Pool create(int threads) {
        ForkJoinPool workers = threads > 1
                ? new ForkJoinPool(threads - 1, Worker::new, null, false)
                : null;
        return new Pool(threads, workers);
    }

    private static final class Worker extends ForkJoinWorkerThread {
        Worker(ForkJoinPool workers) {
            super(workers);
            setName("dora4j-kernel-" + getPoolIndex());
            setDaemon(true);
        }
    }

    /** The number of threads a parallel call keeps busy, the caller included. */
    public static int threads() {
        return pool.threads();
    }

    /** Replaces the pool with one that keeps {@code n} threads busy. Calls already running finish on the old one. */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        Pool old = pool;
        if (n == old.threads()) return;
        pool = create(n);
        if (old.workers() != null) old.workers().shutdown();
    }

    /** True while the current thread runs a chunk of a parallel call; parallel calls made now run inline. */
    public static boolean insideParallel() {
        return Thread.currentThread() instanceof Worker || INSIDE.get()[0];
    }

    /**
     * Splits [0, n) into at most {@code threads()} contiguous chunks of at least {@code grain} items each (one chunk
     * when {@code n < 2·grain}) and runs them in parallel; returns when all are done. The first exception thrown by
     * a chunk is rethrown after every chunk has finished.
     */
    public static void range(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        Pool p = pool;
        int chunks = Math.min(p.threads(), Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || p.workers() == null || insideParallel()) {
            body.run(0, n);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            int start = (int) ((long) n * c / chunks), end = (int) ((long) n * (c + 1) / chunks);
            tasks[c - 1] = p.workers().submit(() -> body.run(start, end));
        }
        boolean[] inside = INSIDE.get();
        Throwable failure = null;
        inside[0] = true;
        try {
            body.run(0, (int) ((long) n / chunks));
        } catch (Throwable t) {
            failure = t;
        } finally {
            inside[0] = false;
        }
        for (ForkJoinTask<?> task : tasks) {
            try {
                task.join();
            } catch (Throwable t) {
                if (failure == null) failure = t;
                else if (failure != t) failure.addSuppressed(t);
            }
        }
        if (failure instanceof RuntimeException e) throw e;
        if (failure instanceof Error e) throw e;
        if (failure != null) throw new IllegalStateException(failure);
    }
}
