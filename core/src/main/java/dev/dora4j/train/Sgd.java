package dev.dora4j.train;

import java.util.List;
import java.util.Map;

/** Plain SGD as {@code torch.optim.SGD} without momentum: {@code p ← p − lr·(g + wd·p)}. */
public final class Sgd implements Optimizer {
    private final List<Parameter> params;
    private final float weightDecay;
    private long t;

    public Sgd(List<Parameter> params, float weightDecay) {
        this.params = List.copyOf(params);
        this.weightDecay = weightDecay;
    }

    @Override
    public void step(float lr) {
        t++;
        for (Parameter p : params) {
            float plr = lr * p.lrScale();
            float wd = p.decay() ? weightDecay : 0f;
            float[] w = p.tensor().data(), g = p.tensor().grad();
            for (int j = 0; j < w.length; j++) w[j] -= plr * (g[j] + wd * w[j]);
        }
    }

    @Override
    public List<Parameter> parameters() {
        return params;
    }

    @Override
    public Map<String, float[]> state() {
        return Map.of();
    }

    @Override
    public long steps() {
        return t;
    }

    @Override
    public void load(Map<String, float[]> state, long steps) {
        this.t = steps;
    }
}
