package dev.dora4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.train.GradientReducer.Totals;
import dev.dora4j.train.Parameter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/** The ring with one thread per rank in this JVM. */
class RingAllReduceTest {
    /** Runs {@code body(rank, ring)} on every rank of a fresh ring and returns each rank's result (or throwable). */
    static List<Object> onRing(int ranks, Duration timeout, int checksumEvery, BiFunction<Integer, RingAllReduce, Object> body)
            throws Exception {
        List<ServerSocket> servers = new ArrayList<>();
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            servers.add(s);
            addresses.add(new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort()));
        }
        ExecutorService pool = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<Object>> futures = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    try (RingAllReduce ring = RingAllReduce.connect(rank, 77, addresses, servers.get(rank), timeout, checksumEvery)) {
                        return body.apply(rank, ring);
                    } catch (RuntimeException e) {
                        return e;
                    }
                }));
            }
            List<Object> out = new ArrayList<>();
            for (Future<Object> f : futures) out.add(f.get(60, TimeUnit.SECONDS));
            return out;
        } finally {
            pool.shutdownNow();
            for (ServerSocket s : servers) s.close();
        }
    }

    /** Two tensors of whole numbers (exact float sums in any order), different per rank; the same values each call. */
    static List<Parameter> parameters(int rank, int sizeA, int sizeB) {
        SplittableRandom rng = new SplittableRandom(rank);
        List<Parameter> out = new ArrayList<>();
        for (int size : new int[] {sizeA, sizeB}) {
            Tensor t = Tensor.param(new float[size], size);
            float[] g = t.grad();
            for (int i = 0; i < size; i++) g[i] = rng.nextInt(-1000, 1000);
            out.add(new Parameter("p" + out.size(), t, true, 1f));
        }
        return out;
    }

    @Test
    void everyRankHoldsTheSumOfAllRanksGradients() throws Exception {
        for (int ranks : new int[] {2, 3, 4}) {
            List<Object> results = onRing(ranks, Duration.ofSeconds(20), 0, (rank, ring) -> {
                List<Parameter> p = parameters(rank, 1001, 7);
                Totals t = ring.allReduce(1, p, new Totals(rank + 0.5, 10L * rank));
                List<Object> r = new ArrayList<>();
                r.add(t);
                for (Parameter q : p) r.add(q.tensor().grad().clone());
                return r;
            });
            for (int rank = 0; rank < ranks; rank++) {
                assertThat(results.get(rank)).as("rank " + rank + " of " + ranks).isInstanceOf(List.class);
                List<?> r = (List<?>) results.get(rank);
                double loss = 0;
                long tokens = 0;
                for (int k = 0; k < ranks; k++) {
                    loss += k + 0.5;
                    tokens += 10L * k;
                }
                assertThat(r.get(0)).isEqualTo(new Totals(loss, tokens));
                for (int t = 0; t < 2; t++) {
                    float[] expected = new float[t == 0 ? 1001 : 7];
                    for (int k = 0; k < ranks; k++) {
                        float[] g = parameters(k, 1001, 7).get(t).tensor().grad();
                        for (int i = 0; i < expected.length; i++) expected[i] += g[i];
                    }
                    assertThat((float[]) r.get(t + 1)).as("tensor %d on rank %d of %d", t, rank, ranks).containsExactly(expected);
                }
            }
        }
    }

    @Test
    void sumsOfRealValuesAreBitIdenticalAcrossRanksAndStepAfterStep() throws Exception {
        List<Object> results = onRing(3, Duration.ofSeconds(20), 2, (rank, ring) -> {
            SplittableRandom rng = new SplittableRandom(100 + rank);
            Tensor t = Tensor.param(new float[4099], 4099);
            List<Parameter> p = List.of(new Parameter("a", t, true, 1f));
            List<float[]> steps = new ArrayList<>();
            for (int step = 1; step <= 4; step++) {
                for (int i = 0; i < 4099; i++) t.grad()[i] = (float) rng.nextGaussian();
                ring.allReduce(step, p, new Totals(0, 0));
                steps.add(t.grad().clone());
            }
            return steps;
        });
        for (int rank = 1; rank < 3; rank++) {
            for (int step = 0; step < 4; step++) {
                assertThat(((List<float[]>) results.get(rank)).get(step)).containsExactly(((List<float[]>) results.get(0)).get(step));
            }
        }
    }

    @Test
    void aPeerThatDiesFailsItsNeighboursAtOnceWithAClearMessage() throws Exception {
        long start = System.nanoTime();
        List<Object> results = onRing(3, Duration.ofSeconds(60), 0, (rank, ring) -> {
            if (rank == 2) throw new IllegalStateException("rank 2 dies");
            return ring.allReduce(1, parameters(rank, 100, 3), new Totals(0, 0));
        });
        assertThat(results.get(0)).isInstanceOf(DoraException.class);
        assertThat(((Exception) results.get(0)).getMessage())
                .matches("rank 0: rank 2 \\(.*\\) (closed|broke) the connection.* in step 1; that rank failed or was killed");
        assertThat(results.get(1)).isInstanceOf(DoraException.class);
        assertThat((System.nanoTime() - start) / 1e9).as("no timeout waited out").isLessThan(30);
    }

    @Test
    void aPeerThatStopsAnsweringFailsTheRankAfterTheTimeout() throws Exception {
        List<Object> results = onRing(2, Duration.ofSeconds(1), 0, (rank, ring) -> {
            if (rank == 1) {
                try {
                    Thread.sleep(4000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }
            return ring.allReduce(3, parameters(rank, 100, 3), new Totals(0, 0));
        });
        assertThat(((Exception) results.get(0)).getMessage()).startsWith("rank 0: rank 1 (")
                .endsWith("sent nothing for 1 s in step 3; it stopped answering");
    }

    @Test
    void ranksWhoseTensorsDifferAreCaughtByTheChecksum() throws Exception {
        List<Object> results = onRing(2, Duration.ofSeconds(20), 5, (rank, ring) -> {
            List<Parameter> p = parameters(0, 10, 3);
            p.get(1).tensor().data()[2] = rank;
            ring.allReduce(4, p, new Totals(0, 0));
            return ring.allReduce(5, p, new Totals(0, 0));
        });
        assertThat(((Exception) results.get(0)).getMessage()).startsWith("step 5: the trainable tensors of rank 1 (checksum")
                .endsWith("the ranks diverged");
    }

    @Test
    void aRingOfOneReturnsItsOwnTotals() throws Exception {
        List<Object> results = onRing(1, Duration.ofSeconds(5), 1, (rank, ring) -> {
            List<Parameter> p = parameters(0, 10, 3);
            float[] before = p.get(0).tensor().grad().clone();
            Totals t = ring.allReduce(1, p, new Totals(2.5, 9));
            assertThat(p.get(0).tensor().grad()).containsExactly(before);
            return t;
        });
        assertThat(results.get(0)).isEqualTo(new Totals(2.5, 9));
    }
}
