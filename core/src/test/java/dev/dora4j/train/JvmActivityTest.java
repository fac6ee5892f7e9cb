package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class JvmActivityTest {
    @Test
    void countsTheCollectionsAndCompilationBetweenTwoSnapshots() {
        JvmActivity before = JvmActivity.now();
        assertThat(before.compileMs()).isNotNegative();
        System.gc();
        JvmActivity d = JvmActivity.now().since(before);
        assertThat(d.gcCycles()).isPositive();
        assertThat(d.compileMs()).isNotNegative();
        assertThat(new JvmActivity(50, 7).since(new JvmActivity(20, 3))).isEqualTo(new JvmActivity(30, 4));
        assertThat(new JvmActivity(50, 7).since(new JvmActivity(-1, 3))).isEqualTo(new JvmActivity(-1, 4));
    }
}
