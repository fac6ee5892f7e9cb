package dev.dora4j.train;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * The largest heap in use right after a garbage collection: the live set the collectors saw. Unlike the resident set,
 * or the heap in use at an arbitrary moment (mostly garbage under a concurrent collector), it does not depend on how
 * lazily the collector runs; it is a sample taken at collections, so a collector that runs rarely sees fewer peaks.
 */
public final class LiveHeap {
    private static final AtomicLong PEAK = new AtomicLong();
    private static boolean watching;

    private LiveHeap() {}

    /** Starts listening to every collector (once per process) and resets the peak. */
    public static synchronized void reset() {
        PEAK.set(0);
        if (watching) return;
        watching = true;
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
                PEAK.accumulateAndGet(used, Math::max);
            }, null, null);
        }
    }

    /** The peak since {@link #reset()} in MB, NaN when no collection has happened since. */
    public static double peakMb() {
        long v = PEAK.get();
        return v <= 0 ? Double.NaN : v / 1048576.0;
    }
}
