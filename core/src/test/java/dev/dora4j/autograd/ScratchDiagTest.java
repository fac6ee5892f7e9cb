package dev.dora4j.autograd;

import dev.dora4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ScratchDiagTest {
    static double[] attn(float[] q, double[] v, float[] k, int batch, int seqLen, int heads, int kvHeads, int d) {
        int T = batch * seqLen, group = heads / kvHeads;
        double[] out = new double[T * heads * d];
        for (int b = 0; b < batch; b++) for (int h = 0; h < heads; h++) for (int t = 0; t < seqLen; t++) {
            double[] s = new double[t + 1];
            double max = -1e300;
            for (int j = 0; j <= t; j++) {
                double acc = 0;
                for (int i = 0; i < d; i++) acc += (double) q[(b * seqLen + t) * heads * d + h * d + i] * k[(b * seqLen + j) * kvHeads * d + (h / group) * d + i];
                s[j] = acc / Math.sqrt(d);
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j <= t; j++) { s[j] = Math.exp(s[j] - max); sum += s[j]; }
            for (int j = 0; j <= t; j++) for (int i = 0; i < d; i++)
                out[(b * seqLen + t) * heads * d + h * d + i] += s[j] / sum * v[(b * seqLen + j) * kvHeads * d + (h / group) * d + i];
        }
        return out;
    }

    @Test
    void diag() {
        SplittableRandom rng = new SplittableRandom(50);
        Tensor q = TransformerOpsGradTest.random(rng, true, 1.5, 6, 16), k = TransformerOpsGradTest.random(rng, true, 1.5, 6, 8), v = TransformerOpsGradTest.random(rng, true, 1, 6, 8);
        float[] w = new float[96];
        SplittableRandom wr = new SplittableRandom(1234);
        for (int i = 0; i < w.length; i++) w[i] = (float) (wr.nextDouble() * 2 - 1);
        Tape tape = Tape.training();
        Tensor y = TransformerOps.causalAttention(tape, q, k, v, 2, 3, 4, 2, 4);
        tape.backward(Ops.weightedSum(tape, y, w));
        double[] vd = new double[48];
        for (int i = 0; i < 48; i++) vd[i] = v.data()[i];
        double hh = 1e-3;
        float k0 = k.data()[31];
        k.data()[31] = (float) (k0 + hh); double hp = k.data()[31] - (double) k0; double[] a = attn(q.data(), vd, k.data(), 2, 3, 4, 2, 4);
        k.data()[31] = (float) (k0 - hh); double hm = k0 - (double) k.data()[31]; double[] b = attn(q.data(), vd, k.data(), 2, 3, 4, 2, 4);
        k.data()[31] = k0; hh = (hp + hm) / 2;
        double fa = 0, fb = 0;
        for (int i = 0; i < 96; i++) { fa += a[i] * w[i]; fb += b[i] * w[i]; }
        GradCheck.Result r = GradCheck.standard().check(tt -> TransformerOps.causalAttention(tt, q, k, v, 2, 3, 4, 2, 4), java.util.List.of(q, k));
        System.out.println(r + " after " + k.grad()[31]);
        System.out.println("analytic " + k.grad()[31] + " double-numeric " + (fa - fb) / (2 * hh));
    }
}
