package dev.dora4j.train;

import dev.dora4j.DoraException;
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
    private final List<Parameter> params;
    private final float beta1, beta2, eps, weightDecay;
    private final float[][] m, v;
    private long t;

    public AdamW(List<Parameter> params, float beta1, float beta2, float eps, float weightDecay) {
        this.params = List.copyOf(params);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new float[params.size()][];
        this.v = new float[params.size()][];
        for (int i = 0; i < params.size(); i++) {
            m[i] = new float[params.get(i).tensor().numel()];
            v[i] = new float[params.get(i).tensor().numel()];
        }
    }

    @Override
    public void step(float lr) {
        t++;
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        double bc2Sqrt = Math.sqrt(bc2);
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            float plr = lr * p.lrScale();
            float[] w = p.tensor().data(), g = p.tensor().grad(), mi = m[i], vi = v[i];
            float decay = p.decay() ? 1f - plr * weightDecay : 1f;
            float stepSize = (float) (plr / bc1);
            for (int j = 0; j < w.length; j++) {
                float gj = g[j];
                mi[j] = beta1 * mi[j] + (1 - beta1) * gj;
                vi[j] = beta2 * vi[j] + (1 - beta2) * gj * gj;
                float denom = (float) (Math.sqrt(vi[j]) / bc2Sqrt) + eps;
                w[j] = w[j] * decay - stepSize * mi[j] / denom;
            }
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
