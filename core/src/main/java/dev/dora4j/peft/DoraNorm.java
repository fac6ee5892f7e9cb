package dev.dora4j.peft;

import dev.dora4j.kernel.F32Matrix;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.kernel.WeightMatrix;
import java.util.function.IntFunction;

/**
 * The row norms {@code n = ‖W + s·B·A‖} of a DoRA layer, computed without ever forming the
 * {@code [out, in]} matrix: {@code ‖W_o + s(BA)_o‖² = ‖W_o‖² + 2s⟨B_o, (W·Aᵀ)_o⟩ + s²·B_o(A·Aᵀ)B_oᵀ}.
 * {@code ‖W_o‖²} is computed once per frozen weight, in whatever storage it is kept; the two small products
 * {@code W·Aᵀ: [out, r]} and {@code B·(A·Aᵀ): [out, r]} are kept for the exact norm gradient. In training, the
 * adapter's forward pass gets {@code A·Wᵀ} from the same pass over W as the base product ({@code Gemm.xWtShared}).
 */
final class DoraNorm {
    /** Values of W·Aᵀ per chunk of the norm's split over threads (256 rows at rank 16, about 10 µs of work). */
    private static final int ROW_GRAIN = 4096;

    /** The norms and the intermediates their gradient needs. */
    record Result(float[] norm, float[] weightTimesAt, float[] bTimesGram, float[] gram) {}

    private DoraNorm() {}

    /**
     * w: [out, in], a: [r, in], b: [out, r], wSq: [out] -> n: [out] with
     * {@code n_o = ‖W_o + s·(BA)_o‖}.
     */
    static Result compute(WeightMatrix w, float[] a, float[] b, double[] wSq, float s, int r) {
        float[] aWt = new float[r * w.rows()];
        Gemm.xWtShared(new float[0], 0, 0, a, 0, r, w, new float[0], 0, aWt, 0);   // the same bits as in training
        return compute(aWt, a, b, wSq, s, r, float[]::new);
    }

    /**
     * As {@link #compute(WeightMatrix, float[], float[], double[], float, int)}, from {@code A·Wᵀ: [r, out]} already
     * computed (with the base product, in one pass over W), the result's arrays taken from {@code floats} (a training
     * step's buffer pool, or {@code float[]::new}; every one is overwritten).
     */
    static Result compute(float[] aWt, float[] a, float[] b, double[] wSq, float s, int r, IntFunction<float[]> floats) {
        int out = wSq.length, in = a.length / r;
        float[] gram = floats.apply(r * r);
        Gemm.xWt(a, 0, a, 0, gram, 0, r, in, r, false);
        float[] bg = floats.apply(out * r);
        Gemm.xWt(b, 0, gram, 0, bg, 0, out, r, r, false);
        float[] wat = floats.apply(out * r), norm = floats.apply(out);
        // rows of W·Aᵀ transposed from A·Wᵀ and their norms, split over the threads (each row on its own: the same
        // bits whatever the split)
        Parallel.range(out, Math.max(64, ROW_GRAIN / r), (o0, o1) -> {
            for (int j = 0; j < r; j++) for (int o = o0; o < o1; o++) wat[o * r + j] = aWt[j * out + o];
            for (int o = o0; o < o1; o++) {
                double cross = VecOps.dot(b, o * r, wat, o * r, r);
                double ba2 = VecOps.dot(b, o * r, bg, o * r, r);
                double sq = wSq[o] + 2.0 * s * cross + (double) s * s * ba2;
                norm[o] = (float) Math.sqrt(Math.max(sq, 0.0));
            }
        });
        return new Result(norm, wat, bg, gram);
    }

    /** The DoRA scale {@code m / n}, 0 for a row whose norm is 0 (such a row of W + s·B·A is all zeros). */
    static float scale(float magnitude, float norm) {
        return norm > 0f ? magnitude / norm : 0f;
    }

    /** The merged matrix's rows: w: [out, in] overwritten with W + s·B·A; returns nothing. */
    static void addScaledProduct(float[] w, float[] a, float[] b, float s, int out, int in, int r) {
        float[] sb = new float[out * r];
        for (int i = 0; i < sb.length; i++) sb[i] = s * b[i];
        Gemm.gW(sb, 0, a, 0, w, 0, out, r, in, true);
    }

    /** Exact row norms of an explicit matrix, accumulated in double. */
    static float[] rowNorms(float[] w, int out, int in) {
        return rowNorms(new F32Matrix(w, out, in));
    }

    /** Exact row norms of a weight in any storage, accumulated in double. */
    static float[] rowNorms(WeightMatrix w) {
        return sqrt(w.rowSquaredNorms());
    }

    private static float[] sqrt(double[] sq) {
        float[] n = new float[sq.length];
        for (int o = 0; o < sq.length; o++) n[o] = (float) Math.sqrt(sq[o]);
        return n;
    }
}
