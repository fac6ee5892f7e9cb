package dev.dora4j.serve;

import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.nn.Linear;
import dev.dora4j.nn.LinearForward;
import dev.dora4j.tensor.Tensor;

/**
 * The linear layers of a batch whose rows carry different adapters: one shared base product {@code x·Wᵀ} for all
 * rows, then per group of consecutive rows with the same adapter its delta, with PEFT's inference semantics:
 * <pre>
 * base: y = W x + b
 * LoRA: y = W x + s·B A x + b
 * DoRA: y = (m/n) ⊙ (W x + s·B A x) + b      (m/n fixed when the adapter loaded)
 * </pre>
 * computed in the order {@code LoraAdapter}'s inference forward computes them.
 */
final class MixedLinearForward implements LinearForward {
    private final int[] groupStart;
    private final ServedAdapter[] groupAdapter;

    /** Group g covers rows {@code groupStart[g] .. groupStart[g+1]-1} (the last to the end) with adapter g (null = base). */
    MixedLinearForward(int[] groupStart, ServedAdapter[] groupAdapter) {
        this.groupStart = groupStart.clone();
        this.groupAdapter = groupAdapter.clone();
    }

    @Override
    public Tensor forward(Tape tape, Linear linear, Tensor x) {
        int rows = x.rows(), in = linear.inFeatures(), out = linear.outFeatures();
        // x: [rows, in], W: [out, in] -> y: [rows, out], shared by every row
        Tensor base = Ops.linear(tape, x, linear.weight(), null);
        float[] y = base.data(), xd = x.data();
        float[] bias = linear.bias() == null ? null : linear.bias().data();
        for (int g = 0; g < groupStart.length; g++) {
            int r0 = groupStart[g], r1 = g + 1 < groupStart.length ? groupStart[g + 1] : rows, n = r1 - r0;
            ServedAdapter.Delta d = groupAdapter[g] == null ? null : groupAdapter[g].delta(linear);
            if (d == null) {
                if (bias != null) for (int r = r0; r < r1; r++) for (int o = 0; o < out; o++) y[r * out + o] += bias[o];
                continue;
            }
            // su = s·A x: [n, r]; y[r0..r1) += su·Bᵀ, then ⊙ m/n and + b in the same pass
            float[] su = new float[n * d.rank()];
            Gemm.xWt(xd, r0 * in, d.loraA(), 0, su, 0, n, in, d.rank(), false);
            for (int i = 0; i < su.length; i++) su[i] *= d.scaling();
            Gemm.xWt(su, 0, d.loraB(), 0, y, r0 * out, n, d.rank(), out, true, d.scale(), bias);
        }
        return base;
    }
}
