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

    @Test
    void buffersForOverwritingAreNotZeroedAndTheTestsPoisonThem() {
        assertThat(Boolean.getBoolean(BufferPool.POISON_PROPERTY)).as("the build sets " + BufferPool.POISON_PROPERTY)
                .isTrue();
        BufferPool pool = new BufferPool();
        float[] a = pool.take(N);
        a[5] = 3f;
        pool.give(a);
        float[] b = pool.takeForOverwrite(N);
        assertThat(b).isSameAs(a);
        assertThat(Float.isNaN(b[0]) && Float.isNaN(b[5]) && Float.isNaN(b[N - 1])).as("poisoned").isTrue();
        assertThat(Float.isNaN(pool.takeForOverwrite(N)[0])).as("a new buffer too").isTrue();
        assertThat(Float.isNaN(pool.takeForOverwrite(N - 1)[0])).as("an unpooled one too").isTrue();
        pool.give(b);
        assertThat(pool.take(N)).as("taken zeroed again").isSameAs(b).containsOnly(0f);
        assertThat(pool.reusedAndAllocatedBytes()).containsExactly(8L * N, 8L * N);
    }

    @Test
    void aGradientsFirstContributionIsWrittenAndLaterOnesAdded() {
        BufferPool pool = new BufferPool();
        float[] old = pool.take(N);
        pool.give(old);
        Tensor t = Tensor.param(new float[N], N).pooled(pool);
        Tensor.GradWrite first = t.gradForWrite();
        assertThat(first.accumulate()).isFalse();
        assertThat(first.values()).as("from the pool, not zeroed").isSameAs(old);
        assertThat(Float.isNaN(first.values()[0])).isTrue();
        Tensor.GradWrite second = t.gradForWrite();
        assertThat(second.accumulate()).isTrue();
        assertThat(second.values()).isSameAs(old).isSameAs(t.grad());

        Tensor asked = Tensor.param(new float[N], N).pooled(pool);
        float[] zeros = asked.grad();
        assertThat(asked.gradForWrite()).as("after grad()").isEqualTo(new Tensor.GradWrite(zeros, true));
        assertThat(Tensor.of(new float[N], N).gradForWrite()).as("frozen").isNull();
        Tensor unpooled = Tensor.param(new float[N], N);
        assertThat(unpooled.gradForWrite().values()).containsOnly(0f);

        t.recycle();
        Tensor recycled = Tensor.param(pool.take(N), N).pooled(pool);
        recycled.recycle();
        assertThatThrownBy(recycled::gradForWrite).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("recycled");
    }
}
