package dev.dora4j.cli;

import dev.dora4j.DoraException;
import java.lang.management.ManagementFactory;

/** Memory advice in one line: a model that cannot fit is refused before loading, and a heap that fills up is explained. */
final class MemoryCheck {
    /** What a user can change when memory runs short. */
    static final String ADVICE = "use --quantize nf4 or --dtype bf16, --activation-checkpointing, a smaller --batch or"
            + " --seq-len, or give the JVM more heap with DORA4J_JAVA_OPTS=-Xmx<size>";

    private MemoryCheck() {}

    /** Refuses a model whose weights alone take more than 90 % of the heap this JVM may use. */
    static void weightsFit(long weightBytes, String what) {
        long heap = Runtime.getRuntime().maxMemory();
        if (weightBytes > 0.9 * heap) {
            throw new DoraException("not enough memory: the weights of " + what + " need " + mb(weightBytes)
                    + " and the Java heap has " + mb(heap) + machine() + "; " + ADVICE);
        }
    }

    /** The one-line message for an {@link OutOfMemoryError}. */
    static String outOfMemory() {
        return "out of memory: the run needed more than the Java heap's " + mb(Runtime.getRuntime().maxMemory())
                + machine() + "; " + ADVICE;
    }

    private static String machine() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return " (this machine has " + mb(os.getTotalMemorySize()) + ")";
        }
        return "";
    }

    private static String mb(long bytes) {
        return String.format("%,d MB", bytes >> 20);
    }
}
