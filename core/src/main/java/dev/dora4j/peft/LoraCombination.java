package dev.dora4j.peft;

import dev.dora4j.DoraException;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Several LoRA/DoRA adapters of one module combined into one with weights {@code wᵢ}, as PEFT's
 * {@code add_weighted_adapter} combines LoRA, and with an exact definition for DoRA. Module {@code i} with ratio
 * {@code ρᵢ = mᵢ/nᵢ} per row (1 for LoRA; {@code nᵢ = ‖W + sᵢBᵢAᵢ‖}) moves the weight by
 * {@code mergeᵢ(W) − W = (ρᵢ − 1) ⊙ W + ρᵢ ⊙ sᵢBᵢAᵢ}. The target is {@code W + Σ wᵢ (mergeᵢ(W) − W)
 * = c ⊙ (W + D)} with {@code c = 1 + Σ wᵢ(ρᵢ − 1)} and {@code D = Σ (wᵢρᵢ/c) ⊙ sᵢBᵢAᵢ} per row; a DoRA adapter with
 * update {@code D} and magnitude {@code c·‖W + D‖} merges to exactly that. The combined adapter has scaling 1.
 * <ul>
 * <li>{@link Kind#CAT}: {@code D} itself, A's stacked and B's columns scaled: rank Σ rᵢ, exact.
 * <li>{@link Kind#LINEAR}: PEFT's {@code linear} for LoRA (equal ranks): {@code A = Σ √(wᵢsᵢ) Aᵢ}, {@code B = Σ √(wᵢsᵢ) Bᵢ};
 * not the sum of the updates, and refused for DoRA.
 * <li>{@link Kind#SVD}: {@code D} truncated to the requested rank by a singular value decomposition (EJML).
 * </ul>
 */
public final class LoraCombination {
    /** How the updates are combined (PEFT's {@code combination_type}). */
    public enum Kind {
        CAT, LINEAR, SVD
    }

    /** One adapter's tensors for the module (null when that adapter does not target it) and its weight. */
    public record Input(AdapterWeights module, double weight) {}

    /**
     * The combined module and the relative error of its merged weight against the target:
     * {@code ‖merged − target‖_F / ‖target − W‖_F} (0 when the target equals W).
     */
    public record Result(AdapterWeights module, double relativeError) {}

    private LoraCombination() {}

    /**
     * @param w    the base weight [out, in], needed for DoRA (else may be null)
     * @param rank the combined rank: Σ rᵢ for CAT (modules of lower rank padded with zeros), the common rank for
     *             LINEAR, the truncation for SVD
     * @param dora whether the combined adapter is DoRA (some input adapter is, on this module or another): then the
     *             module gets a magnitude even when only LoRA inputs target it
     */
    public static Result combine(Kind kind, String path, float[] w, int out, int in, List<Input> inputs, int rank, boolean dora) {
        if (dora && w == null) throw new DoraException(path + ": the base weight is needed to combine DoRA adapters");
        double[][] ratio = new double[inputs.size()][];
        double[] c = new double[out];
        java.util.Arrays.fill(c, 1.0);
        for (int k = 0; k < inputs.size(); k++) {
            AdapterWeights m = inputs.get(k).module();
            if (m == null) continue;
            if (m.out() != out || m.in() != in) {
                throw new DoraException(path + ": an adapter's tensors are " + m.shapes() + " but the weight is [" + out + ", " + in + "]");
            }
            ratio[k] = ratios(m, w);
            for (int o = 0; o < out; o++) c[o] += inputs.get(k).weight() * (ratio[k][o] - 1);
        }
        for (int o = 0; o < out; o++) {
            if (dora && Math.abs(c[o]) < 1e-12) {
                throw new DoraException(path + ": row " + o + " has 1 + Σ w(m/n − 1) = 0: the combined weight is the update alone,"
                        + " which no DoRA magnitude expresses; choose other weights");
            }
        }
        float[] a = new float[rank * in], b = new float[out * rank];
        switch (kind) {
            case CAT -> cat(inputs, ratio, c, out, in, rank, a, b);
            case LINEAR -> linear(path, inputs, dora, out, in, rank, a, b);
            case SVD -> svd(update(inputs, ratio, c, out, in), out, in, rank, a, b);
        }
        float[] magnitude = null;
        if (dora) {
            magnitude = new float[out];
            double[] row = new double[in];
            AdapterWeights unit = new AdapterWeights(path, a, b, null, rank, in, out, 1.0);
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) row[i] = w[o * in + i];
                unit.mergeRow(o, row);
                magnitude[o] = (float) (c[o] * norm(row));
            }
        }
        AdapterWeights combined = new AdapterWeights(path, a, b, magnitude, rank, in, out, 1.0);
        return new Result(combined, relativeError(combined, inputs, w, out, in));
    }

    /** ρ = m / ‖W + s·B·A‖ per row (0 where that norm is 0, as the guarded merge scales such a row), or 1 for LoRA. */
    private static double[] ratios(AdapterWeights m, float[] w) {
        double[] r = new double[m.out()];
        if (!m.isDora()) {
            java.util.Arrays.fill(r, 1.0);
            return r;
        }
        double[] row = new double[m.in()];
        AdapterWeights lora = new AdapterWeights(m.path(), m.loraA(), m.loraB(), null, m.rank(), m.in(), m.out(), m.scaling());
        for (int o = 0; o < m.out(); o++) {
            for (int i = 0; i < m.in(); i++) row[i] = w[o * m.in() + i];
            lora.mergeRow(o, row);
            double n = norm(row);
            r[o] = n > 0 ? m.magnitude()[o] / n : 0.0;
        }
        return r;
    }

    // A: rows of every Aᵢ stacked -> [Σ rᵢ, in], zero rows after them up to rank; B[o, offᵢ + j] = (wᵢ ρᵢ[o] sᵢ / c[o]) Bᵢ[o, j]
    private static void cat(List<Input> inputs, double[][] ratio, double[] c, int out, int in, int rank, float[] a, float[] b) {
        int offset = 0;
        for (int k = 0; k < inputs.size(); k++) {
            AdapterWeights m = inputs.get(k).module();
            int rk = m == null ? 0 : m.rank();
            if (m != null) {
                System.arraycopy(m.loraA(), 0, a, offset * in, rk * in);
                for (int o = 0; o < out; o++) {
                    double f = inputs.get(k).weight() * ratio[k][o] * m.scaling() / c[o];
                    for (int j = 0; j < rk; j++) b[o * rank + offset + j] = (float) (f * m.loraB()[o * rk + j]);
                }
            }
            offset += rk;
        }
    }

    private static void linear(String path, List<Input> inputs, boolean dora, int out, int in, int rank, float[] a, float[] b) {
        if (dora) {
            throw new DoraException(path + ": combination 'linear' is not exact for DoRA adapters (nor for LoRA: it mixes A's"
                    + " and B's); use cat or svd");
        }
        for (Input input : inputs) {
            AdapterWeights m = input.module();
            if (m == null) continue;
            if (m.rank() != rank) throw new DoraException(path + ": combination 'linear' needs equal ranks, got " + m.rank() + " and " + rank);
            double ws = input.weight() * m.scaling();
            if (ws < 0) {
                throw new DoraException(path + ": combination 'linear' takes √(weight · scaling), which is not real for weight "
                        + input.weight() + "; use cat or svd");
            }
            double f = Math.sqrt(ws);
            for (int i = 0; i < a.length; i++) a[i] += (float) (f * m.loraA()[i]);
            for (int i = 0; i < b.length; i++) b[i] += (float) (f * m.loraB()[i]);
        }
    }

    /** D = Σ (wᵢ ρᵢ / c) ⊙ sᵢ Bᵢ Aᵢ: [out, in] in double. */
    private static double[] update(List<Input> inputs, double[][] ratio, double[] c, int out, int in) {
        double[] d = new double[out * in];
        for (int k = 0; k < inputs.size(); k++) {
            AdapterWeights m = inputs.get(k).module();
            if (m == null) continue;
            int r = m.rank();
            for (int o = 0; o < out; o++) {
                double f = inputs.get(k).weight() * ratio[k][o] * m.scaling() / c[o];
                for (int j = 0; j < r; j++) {
                    double coef = f * m.loraB()[o * r + j];
                    if (coef == 0) continue;
                    for (int i = 0; i < in; i++) d[o * in + i] += coef * m.loraA()[j * in + i];
                }
            }
        }
        return d;
    }

    /** The best rank-{@code rank} approximation of d [out, in]: B = U_R Σ_R [out, R], A = V_Rᵀ [R, in]. */
    private static void svd(double[] d, int out, int in, int rank, float[] a, float[] b) {
        DMatrixRMaj m = new DMatrixRMaj(out, in, true, d);
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(out, in, true, true, true);
        if (!svd.decompose(m)) throw new DoraException("the singular value decomposition did not converge");
        DMatrixRMaj u = svd.getU(null, false), s = svd.getW(null), v = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(u, false, s, v, false);
        int kept = Math.min(rank, Math.min(out, in));
        for (int j = 0; j < kept; j++) {
            double sigma = s.get(j, j);
            for (int o = 0; o < out; o++) b[o * rank + j] = (float) (u.get(o, j) * sigma);
            for (int i = 0; i < in; i++) a[j * in + i] = (float) v.get(i, j);
        }
    }

    /** ‖merged − target‖_F / ‖target − W‖_F, every row formed in double; W is zeros when not given (LoRA only). */
    private static double relativeError(AdapterWeights combined, List<Input> inputs, float[] w, int out, int in) {
        double err = 0, ref = 0;
        double[] got = new double[in], want = new double[in], row = new double[in];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                got[i] = w == null ? 0 : w[o * in + i];
                want[i] = got[i];
            }
            combined.mergeRow(o, got);
            for (Input input : inputs) {
                if (input.module() == null) continue;
                for (int i = 0; i < in; i++) row[i] = w == null ? 0 : w[o * in + i];
                input.module().mergeRow(o, row);
                for (int i = 0; i < in; i++) want[i] += input.weight() * (row[i] - (w == null ? 0 : w[o * in + i]));
            }
            for (int i = 0; i < in; i++) {
                double base = w == null ? 0 : w[o * in + i];
                err += (got[i] - want[i]) * (got[i] - want[i]);
                ref += (want[i] - base) * (want[i] - base);
            }
        }
        return ref == 0 ? Math.sqrt(err) : Math.sqrt(err / ref);
    }

    private static double norm(double[] row) {
        double s = 0;
        for (double v : row) s += v * v;
        return Math.sqrt(s);
    }
}
