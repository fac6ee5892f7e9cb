package dev.dora4j.train;

import dev.dora4j.DoraException;
import dev.dora4j.kernel.Parallel;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW as {@code torch.optim.AdamW} computes it (decoupled weight decay, bias correction):
 * <pre>
 * p ← p − lr·wd·p                       (only for parameters with decay)
 * m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
 * p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
 * </pre>
 */
public final class AdamW implements Optimizer {
    /** Values per block of the update's parallel split. */
    private static final int BLOCK = 16384;

    private final List<Parameter> params;
    private final float beta1, beta2, eps, weightDecay;
    private final float[][] m, v;
    /** Where each parameter's values start in the run of all of them; the last entry is their total. */
    private final long[] starts;
    private long t;

    public AdamW(List<Parameter> params, float beta1, float beta2, float eps, float weightDecay) {
        this.params = List.copyOf(params);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new float[params.size()][];
        this.v = new float[params.size()][];
        this.starts = new long[params.size() + 1];
        for (int i = 0; i < params.size(); i++) {
            m[i] = new float[params.get(i).tensor().numel()];
            v[i] = new float[params.get(i).tensor().numel()];
            starts[i + 1] = starts[i] + m[i].length;
        }
    }

    @Override
    public void step(float lr) {
        t++;
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        double bc2Sqrt = Math.sqrt(bc2);
        int n = params.size();
        float[] decay = new float[n], stepSize = new float[n];
        for (int i = 0; i < n; i++) {
            Parameter p = params.get(i);
            float plr = lr * p.lrScale();
            decay[i] = p.decay() ? 1f - plr * weightDecay : 1f;
            stepSize[i] = (float) (plr / bc1);
        }
        // every value's update reads only its own state: the parameters' values taken as one run, in blocks split
        // over the threads, give the same bits as one loop per parameter
        long total = starts[n];
        int blocks = (int) ((total + BLOCK - 1) / BLOCK);
        Parallel.range(blocks, 1, (b0, b1) -> {
            long from = (long) b0 * BLOCK, to = Math.min(total, (long) b1 * BLOCK);
            int i = first(from);
            for (; from < to; i++) {
                int j0 = (int) (from - starts[i]), j1 = (int) (Math.min(to, starts[i + 1]) - starts[i]);
                update(i, j0, j1, decay[i], stepSize[i], bc2Sqrt);
                from = starts[i] + j1;
            }
        });
    }

    // the parameter whose values hold position `at` of the run (the first non-empty one at or after it)
    private int first(long at) {
        int lo = 0, hi = params.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (starts[mid + 1] <= at) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    // values [j0, j1) of parameter i
    private void update(int i, int j0, int j1, float decay, float stepSize, double bc2Sqrt) {
        Parameter p = params.get(i);
        float[] w = p.tensor().data(), g = p.tensor().grad(), mi = m[i], vi = v[i];
        for (int j = j0; j < j1; j++) {
            float gj = g[j];
            mi[j] = beta1 * mi[j] + (1 - beta1) * gj;
            vi[j] = beta2 * vi[j] + (1 - beta2) * gj * gj;
            float denom = (float) (Math.sqrt(vi[j]) / bc2Sqrt) + eps;
            w[j] = w[j] * decay - stepSize * mi[j] / denom;
        }
    }

    @Override
    public List<Parameter> parameters() {
        return params;
    }

    @Override
    public Map<String, float[]> state() {
        Map<String, float[]> s = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            s.put(params.get(i).name() + ".exp_avg", m[i]);
            s.put(params.get(i).name() + ".exp_avg_sq", v[i]);
        }
        return s;
    }

    @Override
    public long steps() {
        return t;
    }

    @Override
    public void load(Map<String, float[]> state, long steps) {
        for (int i = 0; i < params.size(); i++) {
            copy(state, params.get(i).name() + ".exp_avg", m[i]);
            copy(state, params.get(i).name() + ".exp_avg_sq", v[i]);
        }
        this.t = steps;
    }

    static void copy(Map<String, float[]> state, String key, float[] into) {
        float[] src = state.get(key);
        if (src == null) throw new DoraException("optimizer state: tensor '" + key + "' is missing");
        if (src.length != into.length) {
            throw new DoraException("optimizer state: tensor '" + key + "' has " + src.length + " values, expected " + into.length);
        }
        System.arraycopy(src, 0, into, 0, into.length);
    }
}
