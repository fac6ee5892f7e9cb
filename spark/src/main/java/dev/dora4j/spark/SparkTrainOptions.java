package dev.dora4j.spark;

import java.io.Serializable;

/**
 * How a run is spread over Spark: {@code workers} ranks (one barrier task each), the kernel threads of each rank
 * (0: all the executor's cores), how long a rank waits for a peer before failing ({@code peerTimeoutSeconds}, also the
 * bound on the gang's start-up), and every how many steps the ranks compare an adapter checksum. {@code faultAtStep}
 * is a drill for tests: the last rank of the first stage attempt throws at that step (0: never).
 */
public record SparkTrainOptions(int workers, int threadsPerWorker, int peerTimeoutSeconds, int checksumEvery, long faultAtStep)
        implements Serializable {
    public static final int DEFAULT_PEER_TIMEOUT_SECONDS = 300;
    public static final int DEFAULT_CHECKSUM_EVERY = 50;

    public SparkTrainOptions {
        if (workers < 1) throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
        if (threadsPerWorker < 0) throw new IllegalArgumentException("--threads must be positive");
        if (peerTimeoutSeconds < 1) throw new IllegalArgumentException("--peer-timeout must be at least 1 s, got " + peerTimeoutSeconds);
        if (checksumEvery < 0) throw new IllegalArgumentException("--checksum-every must be >= 0");
    }

    public static SparkTrainOptions of(int workers) {
        return new SparkTrainOptions(workers, 0, DEFAULT_PEER_TIMEOUT_SECONDS, DEFAULT_CHECKSUM_EVERY, 0);
    }

    public SparkTrainOptions withThreads(int threads) {
        return new SparkTrainOptions(workers, threads, peerTimeoutSeconds, checksumEvery, faultAtStep);
    }

    public SparkTrainOptions withPeerTimeout(int seconds) {
        return new SparkTrainOptions(workers, threadsPerWorker, seconds, checksumEvery, faultAtStep);
    }

    public SparkTrainOptions withChecksumEvery(int steps) {
        return new SparkTrainOptions(workers, threadsPerWorker, peerTimeoutSeconds, steps, faultAtStep);
    }

    public SparkTrainOptions withFaultAtStep(long step) {
        return new SparkTrainOptions(workers, threadsPerWorker, peerTimeoutSeconds, checksumEvery, step);
    }
}
