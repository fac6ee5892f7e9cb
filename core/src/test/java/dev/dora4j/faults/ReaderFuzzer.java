package dev.dora4j.faults;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Entry point of Jazzer's standalone driver for all four readers in one process: the first byte of an input
 * picks the reader ({@link #TARGETS}, modulo their count) and the rest is the file's content. One process
 * pays Jazzer's start-up once, and coverage guidance works across the readers. At the end it prints how many
 * inputs each reader ran.
 */
public final class ReaderFuzzer {
    static final List<String> TARGETS = List.of(ReaderTargets.SAFETENSORS, ReaderTargets.ADAPTER_CONFIG,
            ReaderTargets.LLAMA_CONFIG, ReaderTargets.DATASET);
    static final String COUNTS_LINE = "dora4j-fuzz executions:";
    private static final AtomicLongArray EXECUTIONS = new AtomicLongArray(TARGETS.size());

    private ReaderFuzzer() {
    }

    public static void fuzzerTestOneInput(byte[] input) {
        if (input.length == 0) {
            return;
        }
        int target = selector(input[0]);
        EXECUTIONS.incrementAndGet(target);
        ReaderTargets.run(TARGETS.get(target), Arrays.copyOfRange(input, 1, input.length));
    }

    public static void fuzzerTearDown() {
        StringBuilder line = new StringBuilder(COUNTS_LINE);
        for (int i = 0; i < TARGETS.size(); i++) {
            line.append(' ').append(TARGETS.get(i)).append('=').append(EXECUTIONS.get(i));
        }
        System.out.println(line);
        System.out.flush();
    }

    /** The index into {@link #TARGETS} that an input starting with {@code first} goes to. */
    static int selector(byte first) {
        return Byte.toUnsignedInt(first) % TARGETS.size();
    }
}
