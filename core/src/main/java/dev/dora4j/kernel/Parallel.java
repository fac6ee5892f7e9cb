package dev.dora4j.kernel;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The one shared set of threads that every parallel kernel uses.
 *
 * <p>With {@code threads() == t} a parallel call keeps exactly {@code t} threads busy: the calling thread runs the
 * first chunk itself and {@code t - 1} workers run the rest. A call made from inside a chunk (by a worker or by the
 * calling thread while it runs its own chunk) runs inline, so nested parallel kernels never deadlock and never
 * oversubscribe the cores. A call made while another thread's call holds the workers runs the same chunks one after
 * another on its own thread.
 *
 * <p>A training step makes over a thousand parallel calls, many of them shorter than a millisecond, so handing a
 * chunk over has to cost far less than waking a parked thread (30-100 µs on a virtual machine). A worker therefore
 * spins for half a millisecond after each chunk, watching for the next, before it parks; the caller spins the same
 * while it waits for the workers to finish. Idle threads park, so a process between calls costs no CPU for long.
 */
public final class Parallel {
    /** A body that handles the half-open index range [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /** How long a worker waiting for the next chunk, or a caller waiting for its workers, spins before it parks. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(500);

    /** A parked caller wakes at least this often to look at its workers again, whether or not one unparks it. */
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private static final ThreadLocal<boolean[]> INSIDE = ThreadLocal.withInitial(() -> new boolean[1]);

    private static volatile Pool pool = new Pool(defaultThreads());

    private Parallel() {}

    private static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** The workers of one thread count; {@code busy} is held by the one call that is using them. */
    private static final class Pool {
        final int threads;
        final Worker[] workers;
        final AtomicBoolean busy = new AtomicBoolean();

        Pool(int threads) {
            this.threads = threads;
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(i);
                workers[i].start();
            }
        }

        /** Waits for a call in flight to finish, keeps the workers from every later one and lets them exit. */
        void shutdown() {
            while (!busy.compareAndSet(false, true)) Thread.yield();
            for (Worker w : workers) {
                w.stopped = true;
                LockSupport.unpark(w);
            }
        }
    }

    /** A thread that runs one chunk of each call handed to it. */
    private static final class Worker extends Thread {
        /** Written by the calling thread before it posts; read by the worker after it sees the post. */
        RangeBody body;

        int start, end;
        /** What the chunk threw: written by the worker before it finishes, cleared by the caller once read. */
        Throwable failure;
        /** The number of calls handed over so far; touched only by the caller that holds the pool. */
        long handed;

        volatile long posted, finished;
        volatile boolean parked, stopped;
        volatile Thread waiter;

        Worker(int index) {
            super("dora4j-kernel-" + index);
            setDaemon(true);
        }

        void post(RangeBody body, int start, int end) {
            this.body = body;
            this.start = start;
            this.end = end;
            posted = ++handed;
            if (parked) LockSupport.unpark(this);
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                long next = awaitPost(seen);
                if (next == seen) return;
                seen = next;
                try {
                    body.run(start, end);
                } catch (Throwable t) {
                    failure = t;
                }
                body = null;
                finished = seen;
                Thread w = waiter;
                if (w != null) LockSupport.unpark(w);
            }
        }

        /** The next post's number, or {@code seen} once the pool is shut down. */
        private long awaitPost(long seen) {
            long spinStart = System.nanoTime();
            for (int i = 1; ; i++) {
                long p = posted;
                if (p != seen) return p;
                if (stopped) return seen;
                if (spin(i, spinStart)) continue;
                parked = true;
                if (posted == seen && !stopped) LockSupport.park(this);
                parked = false;
                spinStart = System.nanoTime();
            }
        }

        /** Returns once this worker has finished the last call handed to it. */
        void awaitFinished() {
            long spinStart = System.nanoTime();
            for (int i = 1; finished != handed; i++) {
                if (spin(i, spinStart)) continue;
                waiter = Thread.currentThread();
                if (finished != handed) LockSupport.parkNanos(this, PARK_NANOS);
                waiter = null;
            }
        }
    }

    /** Spins once and returns true while {@code since} is less than the spin window ago (read every 64th call). */
    private static boolean spin(int i, long since) {
        if ((i & 63) != 0 || System.nanoTime() - since < SPIN_NANOS) {
            Thread.onSpinWait();
            return true;
        }
        return false;
    }

    /** The number of threads a parallel call keeps busy, the caller included. */
    public static int threads() {
        return pool.threads;
    }

    /** Replaces the workers with ones that keep {@code n} threads busy; a call in flight finishes on the old ones. */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        Pool old = pool;
        if (n == old.threads) return;
        pool = new Pool(n);
        old.shutdown();
    }

    /** True while the current thread runs a chunk of a parallel call; parallel calls made now run inline. */
    public static boolean insideParallel() {
        return Thread.currentThread() instanceof Worker || INSIDE.get()[0];
    }

    /**
     * Splits [0, n) into at most {@code threads()} contiguous chunks of at least {@code grain} items each (one chunk
     * when {@code n < 2·grain}) and runs them in parallel; returns when all are done. The chunks are the same whether
     * they run on the workers or, while another thread's call holds them, one after another on the calling thread.
     * The first exception thrown by a chunk is rethrown after every chunk has finished.
     */
    public static void range(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        Pool p = pool;
        int chunks = Math.min(p.threads, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || insideParallel()) {
            body.run(0, n);
            return;
        }
        if (!p.busy.compareAndSet(false, true)) {
            Throwable failure = null;
            for (int c = 0; c < chunks; c++) failure = merge(failure, runInside(body, n, c, chunks));
            rethrow(failure);
            return;
        }
        try {
            for (int c = 1; c < chunks; c++) {
                p.workers[c - 1].post(body, chunkStart(n, c, chunks), chunkStart(n, c + 1, chunks));
            }
            Throwable failure = runInside(body, n, 0, chunks);
            for (int c = 1; c < chunks; c++) {
                Worker w = p.workers[c - 1];
                w.awaitFinished();
                failure = merge(failure, w.failure);
                w.failure = null;
            }
            rethrow(failure);
        } finally {
            p.busy.set(false);
        }
    }

    /** Runs chunk {@code c} on the calling thread, nested calls inline; returns what it threw, if anything. */
    private static Throwable runInside(RangeBody body, int n, int c, int chunks) {
        boolean[] inside = INSIDE.get();
        inside[0] = true;
        try {
            body.run(chunkStart(n, c, chunks), chunkStart(n, c + 1, chunks));
            return null;
        } catch (Throwable t) {
            return t;
        } finally {
            inside[0] = false;
        }
    }

    private static Throwable merge(Throwable first, Throwable next) {
        if (next == null) return first;
        if (first == null) return next;
        if (first != next) first.addSuppressed(next);
        return first;
    }

    private static void rethrow(Throwable failure) {
        if (failure instanceof RuntimeException e) throw e;
        if (failure instanceof Error e) throw e;
        if (failure != null) throw new IllegalStateException(failure);
    }

    private static int chunkStart(int n, int c, int chunks) {
        return (int) ((long) n * c / chunks);
    }
}
