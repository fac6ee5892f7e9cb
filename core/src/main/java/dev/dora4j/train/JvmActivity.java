package dev.dora4j.train;

import java.lang.management.CompilationMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

/**
 * What the JVM itself did while a step ran: the time its JIT compilers spent compiling (on their own threads, which
 * share the cores with the step's) and the garbage collection cycles that began. A step slower than its neighbours
 * with compilation or collections in it was slowed by the JVM, not by its own work. Read as a snapshot before and
 * after; {@link #since} gives the difference.
 *
 * @param compileMs total JIT compilation time so far in ms, or -1 where the JVM does not report it
 * @param gcCycles collection cycles so far (with ZGC its cycles, not its pauses)
 */
public record JvmActivity(long compileMs, long gcCycles) {
    /** The JVM's counters now. */
    public static JvmActivity now() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        long compile = jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
        long cycles = 0, all = 0;
        boolean zgc = false;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            long n = Math.max(0, gc.getCollectionCount());
            all += n;
            // ZGC reports each cycle and, separately, the pauses within it
            if (gc.getName().endsWith("Cycles")) {
                zgc = true;
                cycles += n;
            }
        }
        return new JvmActivity(compile, zgc ? cycles : all);
    }

    /** This snapshot less an earlier one. */
    public JvmActivity since(JvmActivity earlier) {
        return new JvmActivity(compileMs < 0 || earlier.compileMs < 0 ? -1 : compileMs - earlier.compileMs,
                gcCycles - earlier.gcCycles);
    }
}
