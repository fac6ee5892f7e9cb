package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
