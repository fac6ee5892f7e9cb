package dev.dora4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.tensor.BufferPool;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Outputs given back to the pool once their readers have run forward ({@link Tape#release}) and computed again in
 * backward: the pool gets their memory at once, nothing can read them in between, and backward gives the same bits as
 * a tape that kept them, even when other ops took and overwrote the released buffer meanwhile.
 */
class ReleasedValuesTest {
    private static final int ROWS = 64, DIM = 96, OUT = 40;

    private record Inputs(Tensor a, Tensor b, Tensor norm, Tensor w) {
        List<Tensor> trainable() {
            return List.of(a, b, norm, w);
        }
    }

    private static Inputs inputs() {
        SplittableRandom rng = new SplittableRandom(5);
        return new Inputs(TransformerOpsGradTest.random(rng, true, 2, ROWS, DIM),
                TransformerOpsGradTest.random(rng, true, 2, ROWS, DIM),
                TransformerOpsGradTest.random(rng, true, 1, DIM),
                TransformerOpsGradTest.random(rng, true, 0.5, OUT, DIM));
    }

    // the op under test on the inputs: SwiGLU of a and b, or the RMSNorm of a
    private static final BiFunction<Tape, Inputs, Tensor> SWIGLU = (tape, in) -> TransformerOps.swiglu(tape, in.a(), in.b());
    private static final BiFunction<Tape, Inputs, Tensor> RMS_NORM = (tape, in) -> TransformerOps.rmsNorm(tape, in.a(),
            in.norm(), 1e-5f);

    /** The op's output read by a trainable linear layer (its backward reads the output's values) and summed. */
    private static float[][] gradients(BiFunction<Tape, Inputs, Tensor> op, BufferPool pool, boolean release) {
        Inputs in = inputs();
        Tape tape = pool == null ? Tape.training() : Tape.training(pool);
        Tensor out = op.apply(tape, in);
        float[] before = out.data().clone();
        float[][] inBackward = new float[1][];
        // runs in backward after the linear layer's backward, before the op's
        tape.record(() -> inBackward[0] = out.data().clone());
        Tensor y = Ops.linear(tape, out, in.w(), null);
        if (release) {
            tape.release(out);
            assertThatThrownBy(out::data).hasMessageContaining("until backward computes them again");
            // another op takes the buffer and writes over it before backward
            float[] reused = pool.take(out.numel());
            Arrays.fill(reused, 7f);
        }
        float[] weights = new float[y.numel()];
        for (int i = 0; i < weights.length; i++) weights[i] = (i % 7) - 3f;
        Tensor loss = Ops.weightedSum(tape, y, weights);
        tape.backward(loss);
        assertThat(inBackward[0]).as("values in backward").containsExactly(before);
        return in.trainable().stream().map(t -> t.grad().clone()).toArray(float[][]::new);
    }

    @ParameterizedTest
    @ValueSource(strings = {"swiglu", "rms_norm"})
    void releasedValuesComeBackInBackwardWithTheSameGradients(String name) {
        var op = name.equals("swiglu") ? SWIGLU : RMS_NORM;
        float[][] kept = gradients(op, null, false);
        float[][] released = gradients(op, new BufferPool(), true);
        for (int i = 0; i < kept.length; i++) {
            assertThat(released[i]).as("gradient of input %d", i).containsExactly(kept[i]);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"swiglu", "rms_norm"})
    void releaseGivesTheBufferBackAtOnce(String name) {
        var op = name.equals("swiglu") ? SWIGLU : RMS_NORM;
        BufferPool pool = new BufferPool();
        Tape tape = Tape.training(pool);
        Tensor out = op.apply(tape, inputs());
        long free = pool.freeBytes();
        tape.release(out);
        assertThat(pool.freeBytes() - free).isEqualTo(4L * ROWS * DIM);
        tape.release(out); // a second release does nothing
        assertThat(pool.freeBytes() - free).isEqualTo(4L * ROWS * DIM);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void withoutAPoolOrARecordingTapeValuesStay(boolean recording) {
        Tape tape = recording ? Tape.training() : Tape.scratch(new BufferPool());
        Tensor out = SWIGLU.apply(tape, inputs());
        tape.release(out);
        assertThat(out.data()).hasSize(ROWS * DIM);
    }
}
