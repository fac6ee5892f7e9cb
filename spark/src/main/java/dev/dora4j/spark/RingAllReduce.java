package dev.dora4j.spark;

import dev.dora4j.DoraException;
import dev.dora4j.train.GradientReducer;
import dev.dora4j.train.Parameter;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Sums the ranks' gradients over TCP in a ring: rank {@code r} sends to {@code r + 1} and receives from {@code r - 1}
 * (mod N). The flattened gradients are cut into N chunks; in N − 1 reduce-scatter steps each chunk travels the ring
 * collecting one addend per rank (received partial sum + own value, always in the same ring order), so that rank
 * {@code r} ends holding the whole sum of chunk {@code r + 1}; in N − 1 all-gather steps those sums are passed on and
 * copied unchanged. Every rank therefore holds bit-identical sums, and each sends and receives {@code 2(N−1)/N} of the
 * gradient bytes per step. The step's loss, token count and an adapter checksum travel once around the ring and are
 * summed in rank order. Sending runs on a second thread while receiving, so full socket buffers cannot deadlock the
 * ring; every read and write is bounded by {@code timeout}, after which the rank fails naming the silent peer.
 */
public final class RingAllReduce implements GradientReducer, AutoCloseable {
    private static final int MAGIC = 0x446F5241;
    private static final int REDUCE = 0, GATHER = 1, TOTALS = 2;
    private static final ValueLayout.OfFloat WIRE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int rank, ranks;
    private final long gang;
    private final List<InetSocketAddress> addresses;
    private final Duration timeout;
    private final int checksumEvery;
    private final Socket next, previous;
    private final DataOutputStream toNext;
    private final DataInputStream fromPrevious;
    private final ExecutorService sender;
    private float[] flat = new float[0], received = new float[0];
    private byte[] sendBytes = new byte[0], receiveBytes = new byte[0];

    private RingAllReduce(int rank, long gang, List<InetSocketAddress> addresses, Duration timeout, int checksumEvery,
            Socket next, Socket previous) throws IOException {
        this.rank = rank;
        this.ranks = addresses.size();
        this.gang = gang;
        this.addresses = addresses;
        this.timeout = timeout;
        this.checksumEvery = checksumEvery;
        this.next = next;
        this.previous = previous;
        this.toNext = next == null ? null : new DataOutputStream(new BufferedOutputStream(next.getOutputStream(), 1 << 16));
        this.fromPrevious = previous == null ? null : new DataInputStream(new BufferedInputStream(previous.getInputStream(), 1 << 16));
        this.sender = next == null ? null : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "dora4j-ring-send-" + rank);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Joins the ring of {@code addresses} (every rank's listening address, in rank order) as {@code rank}: connects to
     * the next rank and accepts the previous one on {@code server} (already listening at {@code addresses[rank]}).
     * {@code gang} tells this gang's connections from those of an earlier attempt. Every wait is bounded by
     * {@code timeout}; {@code checksumEvery} &gt; 0 compares the trainable tensors of all ranks every that many steps.
     */
    public static RingAllReduce connect(int rank, long gang, List<InetSocketAddress> addresses, ServerSocket server,
            Duration timeout, int checksumEvery) {
        int n = addresses.size();
        if (n == 1) {
            try {
                return new RingAllReduce(rank, gang, addresses, timeout, checksumEvery, null, null);
            } catch (IOException e) {
                throw new DoraException("rank 0: " + e.getMessage(), e);
            }
        }
        int nextRank = (rank + 1) % n, previousRank = (rank + n - 1) % n;
        long deadline = System.nanoTime() + timeout.toNanos();
        Socket next = null, previous = null;
        try {
            next = connectTo(rank, nextRank, addresses.get(nextRank), deadline);
            DataOutputStream hello = new DataOutputStream(next.getOutputStream());
            hello.writeInt(MAGIC);
            hello.writeLong(gang);
            hello.writeInt(rank);
            hello.writeInt(n);
            hello.flush();
            previous = acceptFrom(rank, previousRank, n, gang, server, deadline);
            previous.setSoTimeout(timeoutMillis(timeout));
            return new RingAllReduce(rank, gang, addresses, timeout, checksumEvery, next, previous);
        } catch (IOException e) {
            closeQuietly(next);
            closeQuietly(previous);
            throw new DoraException("rank " + rank + ": cannot join the ring of " + n + " ranks: " + e.getMessage(), e);
        } catch (DoraException e) {
            closeQuietly(next);
            closeQuietly(previous);
            throw e;
        }
    }

    private static Socket connectTo(int rank, int nextRank, InetSocketAddress address, long deadline) throws IOException {
        IOException last = null;
        while (System.nanoTime() < deadline) {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.connect(address, (int) Math.max(1, Math.min(10_000, (deadline - System.nanoTime()) / 1_000_000)));
                return s;
            } catch (IOException e) {
                closeQuietly(s);
                last = e;
                sleep(200);
            }
        }
        throw new DoraException("rank " + rank + ": cannot connect to rank " + nextRank + " at " + address + " ("
                + (last == null ? "timed out" : last.getMessage()) + "); is a firewall between the workers?");
    }

    private static Socket acceptFrom(int rank, int previousRank, int n, long gang, ServerSocket server, long deadline)
            throws IOException {
        while (true) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw new DoraException("rank " + rank + ": rank " + previousRank + " did not connect to " + server.getLocalSocketAddress()
                        + " in time; it failed to start or cannot reach this worker");
            }
            server.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
            Socket s;
            try {
                s = server.accept();
            } catch (SocketTimeoutException e) {
                continue;
            }
            s.setTcpNoDelay(true);
            s.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left)));
            try {
                DataInputStream in = new DataInputStream(s.getInputStream());
                if (in.readInt() == MAGIC && in.readLong() == gang && in.readInt() == previousRank && in.readInt() == n) return s;
            } catch (IOException stale) {
                // a connection from another gang attempt or another program: not ours
            }
            closeQuietly(s);
        }
    }

    public int rank() {
        return rank;
    }

    public int ranks() {
        return ranks;
    }

    @Override
    public Totals allReduce(long step, List<Parameter> parameters, Totals local) {
        long checksum = checksumEvery > 0 && (step == 1 || step % checksumEvery == 0) ? checksum(parameters) : 0;
        if (ranks == 1) return local;
        int total = 0;
        for (Parameter p : parameters) total += p.tensor().grad().length;
        if (flat.length != total) {
            flat = new float[total];
            received = new float[total / ranks + ranks];
            sendBytes = new byte[received.length * Float.BYTES];
            receiveBytes = new byte[received.length * Float.BYTES];
        }
        int offset = 0;
        for (Parameter p : parameters) {
            float[] g = p.tensor().grad();
            System.arraycopy(g, 0, flat, offset, g.length);
            offset += g.length;
        }
        for (int s = 0; s < ranks - 1; s++) {
            int sendChunk = Math.floorMod(rank - s, ranks), receiveChunk = Math.floorMod(rank - s - 1, ranks);
            exchange(step, REDUCE, s, sendChunk, receiveChunk);
            int from = chunkStart(receiveChunk, total), count = chunkStart(receiveChunk + 1, total) - from;
            for (int i = 0; i < count; i++) flat[from + i] = received[i] + flat[from + i];
        }
        for (int s = 0; s < ranks - 1; s++) {
            int sendChunk = Math.floorMod(rank + 1 - s, ranks), receiveChunk = Math.floorMod(rank - s, ranks);
            exchange(step, GATHER, s, sendChunk, receiveChunk);
            int from = chunkStart(receiveChunk, total), count = chunkStart(receiveChunk + 1, total) - from;
            System.arraycopy(received, 0, flat, from, count);
        }
        offset = 0;
        for (Parameter p : parameters) {
            float[] g = p.tensor().grad();
            System.arraycopy(flat, offset, g, 0, g.length);
            offset += g.length;
        }
        return totals(step, local, checksum);
    }

    /** Every rank's (loss, tokens, checksum) passed once around the ring, then summed in rank order. */
    private Totals totals(long step, Totals local, long checksum) {
        double[] loss = new double[ranks];
        long[] tokens = new long[ranks], sums = new long[ranks];
        loss[rank] = local.loss();
        tokens[rank] = local.tokens();
        sums[rank] = checksum;
        for (int hop = 0; hop < ranks - 1; hop++) {
            int s = hop, sendFrom = Math.floorMod(rank - s, ranks), receiveFrom = Math.floorMod(rank - s - 1, ranks);
            Future<?> sent = sender.submit(() -> {
                writeHeader(step, TOTALS, s, sendFrom, 3);
                toNext.writeDouble(loss[sendFrom]);
                toNext.writeLong(tokens[sendFrom]);
                toNext.writeLong(sums[sendFrom]);
                toNext.flush();
                return null;
            });
            try {
                readHeader(step, TOTALS, s, receiveFrom, 3);
                loss[receiveFrom] = fromPrevious.readDouble();
                tokens[receiveFrom] = fromPrevious.readLong();
                sums[receiveFrom] = fromPrevious.readLong();
            } catch (IOException e) {
                throw receiveFailure(step, e);
            }
            awaitSent(sent, step);
        }
        if (checksum != 0) {
            for (int r = 1; r < ranks; r++) {
                if (sums[r] != sums[0]) {
                    throw new DoraException(String.format("step %d: the trainable tensors of rank %d (checksum %016x) differ from "
                            + "rank 0's (%016x); the ranks diverged", step, r, sums[r], sums[0]));
                }
            }
        }
        double lossSum = 0;
        long tokenSum = 0;
        for (int r = 0; r < ranks; r++) {
            lossSum += loss[r];
            tokenSum += tokens[r];
        }
        return new Totals(lossSum, tokenSum);
    }

    private void exchange(long step, int phase, int s, int sendChunk, int receiveChunk) {
        int total = flat.length;
        int sendFrom = chunkStart(sendChunk, total), sendCount = chunkStart(sendChunk + 1, total) - sendFrom;
        MemorySegment.copy(flat, sendFrom, MemorySegment.ofArray(sendBytes), WIRE_FLOAT, 0, sendCount);
        Future<?> sent = sender.submit(() -> {
            writeHeader(step, phase, s, sendChunk, sendCount);
            toNext.write(sendBytes, 0, sendCount * Float.BYTES);
            toNext.flush();
            return null;
        });
        int receiveCount = chunkStart(receiveChunk + 1, total) - chunkStart(receiveChunk, total);
        try {
            readHeader(step, phase, s, receiveChunk, receiveCount);
            fromPrevious.readFully(receiveBytes, 0, receiveCount * Float.BYTES);
        } catch (IOException e) {
            throw receiveFailure(step, e);
        }
        MemorySegment.copy(MemorySegment.ofArray(receiveBytes), WIRE_FLOAT, 0, received, 0, receiveCount);
        awaitSent(sent, step);
    }

    private int chunkStart(int chunk, int total) {
        return (int) ((long) chunk * total / ranks);
    }

    private void writeHeader(long step, int phase, int s, int chunk, int count) throws IOException {
        toNext.writeInt(MAGIC);
        toNext.writeLong(step);
        toNext.writeInt(phase << 24 | s << 12 | chunk);
        toNext.writeInt(count);
    }

    private void readHeader(long step, int phase, int s, int chunk, int count) throws IOException {
        int magic = fromPrevious.readInt();
        long theirStep = fromPrevious.readLong();
        int tag = fromPrevious.readInt(), theirCount = fromPrevious.readInt();
        if (magic != MAGIC || theirStep != step || tag != (phase << 24 | s << 12 | chunk) || theirCount != count) {
            throw new DoraException(String.format("rank %d: rank %d sent step %d part %x of %d values where step %d part %x of %d "
                    + "was due; the ranks disagree on the run (different data or settings?)", rank, previousRank(), theirStep, tag,
                    theirCount, step, phase << 24 | s << 12 | chunk, count));
        }
    }

    private void awaitSent(Future<?> sent, long step) {
        try {
            sent.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            closeQuietly(next);
            throw new DoraException(String.format("rank %d: rank %d (%s) took nothing for %d s in step %d; it stopped answering",
                    rank, (rank + 1) % ranks, addresses.get((rank + 1) % ranks), timeout.toSeconds(), step), e);
        } catch (ExecutionException e) {
            throw new DoraException(String.format("rank %d: cannot send to rank %d (%s) in step %d (%s); that rank failed or was killed",
                    rank, (rank + 1) % ranks, addresses.get((rank + 1) % ranks), step, e.getCause().getMessage()), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DoraException("rank " + rank + ": interrupted in step " + step, e);
        }
    }

    private DoraException receiveFailure(long step, IOException e) {
        String peer = "rank " + previousRank() + " (" + addresses.get(previousRank()) + ")";
        if (e instanceof SocketTimeoutException) {
            return new DoraException(String.format("rank %d: %s sent nothing for %d s in step %d; it stopped answering", rank, peer,
                    timeout.toSeconds(), step), e);
        }
        String what = e instanceof EOFException ? "closed the connection" : "broke the connection (" + e.getMessage() + ")";
        return new DoraException(String.format("rank %d: %s %s in step %d; that rank failed or was killed", rank, peer, what, step), e);
    }

    private int previousRank() {
        return (rank + ranks - 1) % ranks;
    }

    /** A 64-bit hash of the values of the trainable tensors, in order (never 0). */
    static long checksum(List<Parameter> parameters) {
        long h = 0xcbf29ce484222325L;
        for (Parameter p : parameters) {
            for (float v : p.tensor().data()) h = (h ^ Float.floatToRawIntBits(v)) * 0x100000001b3L;
        }
        return h == 0 ? 1 : h;
    }

    private static int timeoutMillis(Duration timeout) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DoraException("interrupted while connecting the ring", e);
        }
    }

    static void closeQuietly(AutoCloseable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (Exception ignored) {
            // closing after a failure: the first error is the one reported
        }
    }

    /** Closes both connections, so the neighbours of a failing rank fail at once instead of waiting out their timeout. */
    @Override
    public void close() {
        if (sender != null) sender.shutdownNow();
        closeQuietly(next);
        closeQuietly(previous);
    }
}
