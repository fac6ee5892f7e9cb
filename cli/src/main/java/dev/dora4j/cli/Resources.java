package dev.dora4j.cli;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/** Process resource figures read from the operating system. */
final class Resources {
    private Resources() {}

    /** Peak resident set size (VmHWM) in MB, or NaN where /proc is not available. */
    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }

    private static final AtomicLong PEAK_LIVE = new AtomicLong(-1);

    /**
     * Starts recording the heap in use right after each garbage collection: its peak is the largest live set, which,
     * unlike the resident set or the heap in use at a random moment, does not depend on how lazily the collector runs.
     */
    static synchronized void watchLiveHeap() {
        if (PEAK_LIVE.get() >= 0) return;
        PEAK_LIVE.set(0);
        Set<String> heapPools = new HashSet<>();
        ManagementFactory.getMemoryPoolMXBeans().forEach(p -> {
            if (p.getType() == MemoryType.HEAP) heapPools.add(p.getName());
        });
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (!(gc instanceof NotificationEmitter emitter)) continue;
            emitter.addNotificationListener((n, handback) -> {
                if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
                var info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
                long used = 0;
                for (var e : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
                    if (heapPools.contains(e.getKey())) used += e.getValue().getUsed();
                }
                PEAK_LIVE.accumulateAndGet(used, Math::max);
            }, null, null);
        }
    }

    /** The largest heap in use right after a collection since {@link #watchLiveHeap()}, in MB (NaN before any collection). */
    static double peakLiveHeapMb() {
        long v = PEAK_LIVE.get();
        return v <= 0 ? Double.NaN : v / 1048576.0;
    }
}
