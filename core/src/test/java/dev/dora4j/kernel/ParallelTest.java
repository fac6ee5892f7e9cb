package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ParallelTest {
    private static final int DEFAULT_THREADS = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(DEFAULT_THREADS);
    }

    @Test
    void coversEveryIndexOnceWithAtMostThreadsChunks() {
        for (int threads = 1; threads <= 4; threads++) {
            Parallel.setThreads(threads);
            assertThat(Parallel.threads()).isEqualTo(threads);
            for (int n : new int[] {0, 1, 2, 3, 7, 100, 1001}) {
                for (int grain : new int[] {1, 3, 50}) {
                    AtomicIntegerArray seen = new AtomicIntegerArray(n);
                    AtomicInteger chunks = new AtomicInteger();
                    Parallel.range(n, grain, (s, e) -> {
                        assertThat(s).isLessThan(e);
                        chunks.incrementAndGet();
                        for (int i = s; i < e; i++) seen.incrementAndGet(i);
                    });
                    for (int i = 0; i < n; i++) assertThat(seen.get(i)).isEqualTo(1);
                    assertThat(chunks.get()).isLessThanOrEqualTo(Math.max(1, Math.min(threads, n / grain)));
                }
            }
        }
    }

    @Test
    void keepsExactlyThreadsBusyIncludingTheCaller() {
        Parallel.setThreads(3);
        Set<Thread> used = ConcurrentHashMap.newKeySet();
        for (int rep = 0; rep < 50; rep++) {
            Parallel.range(3, 1, (s, e) -> {
                used.add(Thread.currentThread());
                sleep(1);
            });
        }
        assertThat(used).contains(Thread.currentThread());
        assertThat(used.size()).isLessThanOrEqualTo(3);
    }

    @Test
    void nestedCallsRunInlineWithoutDeadlock() {
        Parallel.setThreads(2);
        AtomicInteger total = new AtomicInteger();
        AtomicInteger insideCount = new AtomicInteger();
        Parallel.range(8, 1, (s, e) -> {
            for (int i = s; i < e; i++) {
                Thread outer = Thread.currentThread();
                if (Parallel.insideParallel()) insideCount.incrementAndGet();
                Parallel.range(1000, 1, (s2, e2) -> {
                    assertThat(Thread.currentThread()).isSameAs(outer);
                    total.addAndGet(e2 - s2);
                });
            }
        });
        assertThat(total.get()).isEqualTo(8000);
        assertThat(insideCount.get()).isEqualTo(8);
        assertThat(Parallel.insideParallel()).isFalse();
    }

    @Test
    void rethrowsTheFirstFailureAfterAllChunksFinish() {
        Parallel.setThreads(2);
        AtomicInteger finished = new AtomicInteger();
        assertThatThrownBy(() -> Parallel.range(2, 1, (s, e) -> {
            if (s == 0) throw new IllegalStateException("boom");
            sleep(20);
            finished.incrementAndGet();
        })).isInstanceOf(IllegalStateException.class).hasMessageContaining("boom");
        assertThat(finished.get()).isEqualTo(1);
        assertThatThrownBy(() -> Parallel.range(2, 1, (s, e) -> {
            if (s > 0) throw new ArithmeticException("worker");
        })).isInstanceOf(ArithmeticException.class);
        assertThat(Parallel.insideParallel()).isFalse();
    }

    @Test
    void aWorkerThatThrewRunsLaterChunks() {
        Parallel.setThreads(2);
        for (int rep = 0; rep < 3; rep++) {
            assertThatThrownBy(() -> Parallel.range(2, 1, (s, e) -> {
                if (s > 0) throw new ArithmeticException("worker " + s);
            })).isInstanceOf(ArithmeticException.class).hasMessage("worker 1");
            Set<Thread> used = ConcurrentHashMap.newKeySet();
            AtomicIntegerArray seen = new AtomicIntegerArray(10);
            Parallel.range(10, 1, (s, e) -> {
                used.add(Thread.currentThread());
                for (int i = s; i < e; i++) seen.incrementAndGet(i);
            });
            for (int i = 0; i < 10; i++) assertThat(seen.get(i)).isEqualTo(1);
            assertThat(used).hasSize(2);
        }
    }

    @Test
    void concurrentCallersGetTheSameChunksAsOne() throws Exception {
        Parallel.setThreads(3);
        int n = 1000;
        List<String> alone = chunksOf(n);
        int callers = 4;
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        Set<Throwable> failures = ConcurrentHashMap.newKeySet();
        for (int t = 0; t < callers; t++) {
            Thread th = new Thread(() -> {
                try {
                    go.await();
                    for (int rep = 0; rep < 200; rep++) {
                        AtomicIntegerArray seen = new AtomicIntegerArray(n);
                        Set<String> chunks = ConcurrentHashMap.newKeySet();
                        Parallel.range(n, 1, (s, e) -> {
                            chunks.add(s + "-" + e);
                            for (int i = s; i < e; i++) seen.incrementAndGet(i);
                        });
                        for (int i = 0; i < n; i++) assertThat(seen.get(i)).isEqualTo(1);
                        assertThat(chunks).containsExactlyInAnyOrderElementsOf(alone);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            th.start();
            threads.add(th);
        }
        go.countDown();
        for (Thread th : threads) th.join();
        assertThat(failures).isEmpty();
    }

    @Test
    void changingTheThreadsWhileAnotherThreadCallsLosesNoChunk() throws Exception {
        Parallel.setThreads(2);
        AtomicInteger wrong = new AtomicInteger();
        AtomicInteger calls = new AtomicInteger();
        Thread caller = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                AtomicIntegerArray seen = new AtomicIntegerArray(64);
                Parallel.range(64, 1, (s, e) -> {
                    for (int i = s; i < e; i++) seen.incrementAndGet(i);
                });
                for (int i = 0; i < 64; i++) if (seen.get(i) != 1) wrong.incrementAndGet();
                calls.incrementAndGet();
            }
        });
        caller.start();
        for (int rep = 0; rep < 50; rep++) {
            Parallel.setThreads(2 + rep % 3);
            sleep(1);
        }
        caller.interrupt();
        caller.join();
        assertThat(calls.get()).isPositive();
        assertThat(wrong.get()).isZero();
    }

    @Test
    void idleWorkersPark() {
        Parallel.setThreads(3);
        Parallel.range(3, 1, (s, e) -> {});
        // after the spin window every worker waits parked, costing no CPU
        long deadline = System.nanoTime() + 5_000_000_000L;
        List<Thread.State> states;
        do {
            sleep(10);
            states = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("dora4j-kernel-") && t.isAlive())
                    .map(Thread::getState)
                    .toList();
        } while (!states.stream().allMatch(st -> st == Thread.State.WAITING) && System.nanoTime() < deadline);
        assertThat(states).hasSize(2).containsOnly(Thread.State.WAITING);
    }

    private static List<String> chunksOf(int n) {
        Set<String> chunks = ConcurrentHashMap.newKeySet();
        Parallel.range(n, 1, (s, e) -> chunks.add(s + "-" + e));
        return List.copyOf(chunks);
    }

    @Test
    void rejectsFewerThanOneThread() {
        assertThatThrownBy(() -> Parallel.setThreads(0)).isInstanceOf(IllegalArgumentException.class);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
