package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.kernel.Parallel;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdamWTest {
    private static final int DEFAULT_THREADS = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(DEFAULT_THREADS);
    }

    /** Sizes that leave parameters empty, smaller than one block, and crossing blocks at odd places. */
    private static final int[] SIZES = {5, 0, 16384, 40000, 1, 0, 70001, 16383, 3};

    @Test
    void parallelUpdateGivesTheBitsOfOneLoopPerParameter() {
        for (int threads = 1; threads <= 3; threads++) {
            Parallel.setThreads(threads);
            List<Parameter> params = params(11);
            float[][] w = values(params), m = zeros(params), v = zeros(params);
            AdamW adamw = new AdamW(params, 0.9f, 0.999f, 1e-8f, 0.01f);
            Random rnd = new Random(7);
            for (int step = 1; step <= 3; step++) {
                for (Parameter p : params) {
                    float[] g = p.tensor().grad();
                    for (int j = 0; j < g.length; j++) g[j] = (float) rnd.nextGaussian();
                }
                float lr = 1e-3f * step;
                reference(params, w, m, v, step, lr);
                adamw.step(lr);
                var state = adamw.state();
                for (int i = 0; i < params.size(); i++) {
                    String where = "threads " + threads + " step " + step + " parameter " + i;
                    assertThat(firstDifference(params.get(i).tensor().data(), w[i])).as(where).isEqualTo(-1);
                    assertThat(firstDifference(state.get("p" + i + ".exp_avg"), m[i])).as(where).isEqualTo(-1);
                    assertThat(firstDifference(state.get("p" + i + ".exp_avg_sq"), v[i])).as(where).isEqualTo(-1);
                }
            }
        }
    }

    // the first index where the bits differ, -1 when none do (AssertJ's element-wise comparison is slow on 70,000)
    private static int firstDifference(float[] a, float[] b) {
        if (a.length != b.length) return Math.min(a.length, b.length);
        for (int i = 0; i < a.length; i++) if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) return i;
        return -1;
    }

    // torch.optim.AdamW's update, one parameter after another
    private static void reference(List<Parameter> params, float[][] w, float[][] m, float[][] v, long t, float lr) {
        float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.01f;
        double bc1 = 1 - Math.pow(beta1, t), bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            float plr = lr * p.lrScale();
            float decay = p.decay() ? 1f - plr * wd : 1f;
            float stepSize = (float) (plr / bc1);
            float[] g = p.tensor().grad();
            for (int j = 0; j < g.length; j++) {
                m[i][j] = beta1 * m[i][j] + (1 - beta1) * g[j];
                v[i][j] = beta2 * v[i][j] + (1 - beta2) * g[j] * g[j];
                float denom = (float) (Math.sqrt(v[i][j]) / bc2Sqrt) + eps;
                w[i][j] = w[i][j] * decay - stepSize * m[i][j] / denom;
            }
        }
    }

    private static List<Parameter> params(long seed) {
        Random rnd = new Random(seed);
        List<Parameter> params = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            float[] data = new float[SIZES[i]];
            for (int j = 0; j < data.length; j++) data[j] = (float) rnd.nextGaussian();
            params.add(new Parameter("p" + i, Tensor.param(data, data.length), i % 2 == 0, i % 3 == 0 ? 2f : 1f));
        }
        return params;
    }

    private static float[][] values(List<Parameter> params) {
        float[][] w = new float[params.size()][];
        for (int i = 0; i < w.length; i++) w[i] = params.get(i).tensor().data().clone();
        return w;
    }

    private static float[][] zeros(List<Parameter> params) {
        float[][] z = new float[params.size()][];
        for (int i = 0; i < z.length; i++) z[i] = new float[params.get(i).tensor().numel()];
        return z;
    }
}
