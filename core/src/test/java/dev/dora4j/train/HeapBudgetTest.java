package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class HeapBudgetTest {
    private static final long MB = 1L << 20;

    @Test
    void targetIsALittleAboveTheLiveSetWithinTheMaximum() {
        assertThat(HeapBudget.target(1000 * MB, 8192 * MB)).isEqualTo(1292 * MB);
        assertThat(HeapBudget.target(0, 8192 * MB)).isEqualTo(192 * MB);
        assertThat(HeapBudget.target(7000 * MB, 8192 * MB)).isEqualTo(7892 * MB);
        assertThat(HeapBudget.target(7500 * MB, 8192 * MB)).isEqualTo(8192 * MB);
        // past about 6.6 GB live the headroom stops growing: 2 GB over the live set (mostly frozen weights)
        assertThat(HeapBudget.target(6000 * MB, 32768 * MB)).isEqualTo(6792 * MB);
        assertThat(HeapBudget.target(19000 * MB, 32768 * MB)).isEqualTo(21048 * MB);
    }

    @Test
    void setsTheSoftLimitOnlyWhenAskedToAndOnlyForLargerBatches() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        String before = vm.getVMOption("SoftMaxHeapSize").getValue();
        String property = System.getProperty(HeapBudget.PROPERTY);
        try {
            System.clearProperty(HeapBudget.PROPERTY);
            HeapBudget.atForwardEnd(1000);
            assertThat(vm.getVMOption("SoftMaxHeapSize").getValue()).isEqualTo(before);
            assertThat(HeapBudget.softMaxMb()).isNaN();

            System.setProperty(HeapBudget.PROPERTY, "auto");
            HeapBudget.atForwardEnd(1000);
            double first = HeapBudget.softMaxMb();
            long live = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            assertThat(first).isGreaterThanOrEqualTo(192.0);
            assertThat(Long.parseLong(vm.getVMOption("SoftMaxHeapSize").getValue())).isEqualTo((long) (first * MB));
            assertThat(first * MB).isLessThanOrEqualTo(Runtime.getRuntime().maxMemory());
            assertThat(first * MB).isLessThan(1.1 * live + 192 * MB + 64 * MB);

            // fewer than 10 % more tokens: no new measurement, the limit stays
            vm.setVMOption("SoftMaxHeapSize", before);
            HeapBudget.atForwardEnd(1099);
            assertThat(vm.getVMOption("SoftMaxHeapSize").getValue()).isEqualTo(before);
            HeapBudget.atForwardEnd(1100);
            assertThat(vm.getVMOption("SoftMaxHeapSize").getValue()).isNotEqualTo(before);

            // asked to measure again (another model built since): the next forward pass measures, whatever its tokens
            vm.setVMOption("SoftMaxHeapSize", before);
            HeapBudget.atForwardEnd(1100);
            assertThat(vm.getVMOption("SoftMaxHeapSize").getValue()).isEqualTo(before);
            HeapBudget.measureAgain();
            HeapBudget.atForwardEnd(1100);
            assertThat(vm.getVMOption("SoftMaxHeapSize").getValue()).isNotEqualTo(before);
        } finally {
            vm.setVMOption("SoftMaxHeapSize", before);
            if (property == null) System.clearProperty(HeapBudget.PROPERTY);
            else System.setProperty(HeapBudget.PROPERTY, property);
        }
    }
}
