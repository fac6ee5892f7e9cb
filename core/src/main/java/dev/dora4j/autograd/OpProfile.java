package dev.dora4j.autograd;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Wall time per op, forward and backward separately, when enabled (off by default: then it costs one
 * branch per op). Ops are timed on the thread that runs them, which includes their parallel work.
 */
public final class OpProfile {
    private static volatile boolean enabled;
    private static final Map<String, LongAdder[]> TOTALS = new ConcurrentHashMap<>();

    private OpProfile() {}

    public static void enable(boolean on) {
        enabled = on;
    }

    public static boolean enabled() {
        return enabled;
    }

    public static void reset() {
        TOTALS.clear();
    }

    /** Runs {@code body}, adding its time to {@code name}'s forward total. */
    public static <T> T forward(String name, Supplier<T> body) {
        if (!enabled) return body.get();
        long t0 = System.nanoTime();
        try {
            return body.get();
        } finally {
            add(name + " forward", System.nanoTime() - t0);
        }
    }

    /** {@code backward}, timed under {@code name} when profiling is on. */
    static Tape.Backward backward(String name, Tape.Backward backward) {
        if (!enabled) return backward;
        return () -> {
            long t0 = System.nanoTime();
            try {
                backward.run();
            } finally {
                add(name + " backward", System.nanoTime() - t0);
            }
        };
    }

    /** Adds {@code nanos} to the total named {@code name}. */
    public static void add(String name, long nanos) {
        LongAdder[] a = TOTALS.computeIfAbsent(name, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        a[0].add(nanos);
        a[1].increment();
    }

    /** Seconds and call counts by name. */
    public static Map<String, double[]> snapshot() {
        Map<String, double[]> out = new TreeMap<>();
        TOTALS.forEach((k, v) -> out.put(k, new double[] {v[0].sum() / 1e9, v[1].sum()}));
        return out;
    }
}
