package dev.dora4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BufferPoolTest {
    private static final int N = BufferPool.MIN_FLOATS;

    @Test
    void aBufferGivenBackIsLentAgainZeroed() {
        BufferPool pool = new BufferPool();
        float[] a = pool.take(N);
        a[5] = 3f;
        assertThat(pool.give(a)).isTrue();
        assertThat(pool.freeBytes()).isEqualTo(4L * N);
        float[] b = pool.take(N);
        assertThat(b).isSameAs(a);
        assertThat(b).containsOnly(0f);
        assertThat(pool.take(N)).isNotSameAs(a);
        assertThat(pool.reusedAndAllocatedBytes()).containsExactly(4L * N, 8L * N);
    }

    @Test
    void onlyBuffersStillLentAreTakenBackAndOnlyOnce() {
        BufferPool pool = new BufferPool();
        float[] a = pool.take(N);
        assertThat(pool.give(a)).isTrue();
        assertThat(pool.give(a)).as("given twice").isFalse();
        assertThat(pool.give(new float[N])).as("not lent by the pool").isFalse();
        assertThat(pool.give(null)).isFalse();
        assertThat(pool.freeBytes()).isEqualTo(4L * N);
    }

    @Test
    void smallBuffersAreNotPooled() {
        BufferPool pool = new BufferPool();
        float[] a = pool.take(N - 1);
        assertThat(pool.give(a)).isFalse();
        assertThat(pool.freeBytes()).isZero();
    }

    @Test
    void endStepForgetsWhatIsStillLentAndKeepsNoMoreThanTheRecentWorkingSet() {
        BufferPool pool = new BufferPool();
        float[] a = pool.take(N), b = pool.take(N + 1), kept = pool.take(N + 2);
        pool.give(a);
        pool.give(b);
        pool.endStep();
        assertThat(pool.give(kept)).as("lent before endStep").isFalse();
        assertThat(pool.freeBytes()).isEqualTo(4L * (2 * N + 1));
        // steps that need one buffer of N: once the first step's peak has left the window, only that much is kept
        for (int step = 1; step <= BufferPool.RECENT_STEPS; step++) {
            float[] c = pool.take(N);
            assertThat(c).isSameAs(a);
            pool.give(c);
            pool.endStep();
            long expected = step < BufferPool.RECENT_STEPS ? 2 * N + 1 : N;
            assertThat(pool.freeBytes()).as("free after step %d", step).isEqualTo(4L * expected);
        }
        assertThat(pool.take(N + 1)).as("the length asked for longest ago was dropped").isNotSameAs(b);
    }

    @Test
    void aRecycledTensorGivesItsBuffersBackAndCannotBeReadAgain() {
        BufferPool pool = new BufferPool();
        Tensor t = Tensor.param(pool.take(N), 2, N / 2).pooled(pool);
        float[] grad = t.grad();
        t.recycle();
        assertThat(pool.freeBytes()).isEqualTo(8L * N);
        assertThat(pool.take(N)).isIn(grad, pool.take(N));
        assertThatThrownBy(t::data).isInstanceOf(IllegalStateException.class).hasMessageContaining("recycled");
        assertThatThrownBy(t::grad).isInstanceOf(IllegalStateException.class).hasMessageContaining("recycled");
    }

    @Test
    void aTensorOverACallersArrayKeepsItWhenRecycled() {
        BufferPool pool = new BufferPool();
        float[] values = new float[N];
        Tensor t = Tensor.param(values, N).pooled(pool);
        t.recycle();
        assertThat(t.data()).isSameAs(values);
    }
}
