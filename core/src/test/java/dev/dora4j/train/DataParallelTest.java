package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DataParallelTest {
    @Test
    void ranksTakeEveryNthPositionAndTogetherReadTheBatchOnce() {
        int[] batch = {7, 3, 9, 1, 4, 8, 2};
        assertThat(new DataParallel(0, 3, (s, p, t) -> t).shard(batch)).containsExactly(7, 1, 2);
        assertThat(new DataParallel(1, 3, (s, p, t) -> t).shard(batch)).containsExactly(3, 4);
        assertThat(new DataParallel(2, 3, (s, p, t) -> t).shard(batch)).containsExactly(9, 8);
        List<Integer> all = new ArrayList<>();
        for (int r = 0; r < 3; r++) for (int i : new DataParallel(r, 3, (s, p, t) -> t).shard(batch)) all.add(i);
        assertThat(all).containsExactlyInAnyOrder(7, 3, 9, 1, 4, 8, 2);
        assertThat(DataParallel.SINGLE.shard(batch)).isSameAs(batch);
    }

    @Test
    void aShortBatchLeavesTheLastRanksEmpty() {
        assertThat(new DataParallel(3, 4, (s, p, t) -> t).shard(new int[] {5, 6})).isEmpty();
        assertThat(new DataParallel(1, 4, (s, p, t) -> t).shard(new int[] {5, 6})).containsExactly(6);
    }

    @Test
    void dropoutSlicesDifferPerStepAndRank() {
        DataParallel r0 = new DataParallel(0, 2, (s, p, t) -> t), r1 = new DataParallel(1, 2, (s, p, t) -> t);
        assertThat(r0.dropoutPosition(0)).isNotEqualTo(r1.dropoutPosition(0));
        assertThat(r1.dropoutPosition(0)).isLessThan(r0.dropoutPosition(1));
        assertThat(r1.dropoutPosition(5)).isEqualTo(new DataParallel(1, 7, (s, p, t) -> t).dropoutPosition(5));
    }

    @Test
    void aGangNeedsAReducerAndRanksInRange() {
        assertThatThrownBy(() -> new DataParallel(0, 2, null)).hasMessageContaining("reducer");
        assertThatThrownBy(() -> new DataParallel(2, 2, (s, p, t) -> t)).hasMessageContaining("rank 2");
    }
}
