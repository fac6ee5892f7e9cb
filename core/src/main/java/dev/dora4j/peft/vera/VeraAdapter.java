package dev.dora4j.peft.vera;

import dev.dora4j.autograd.Tape;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterTensor;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.peft.PeftMethod;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A VeRA adapter on one frozen linear layer, as PEFT's {@code vera.Linear}, or with a magnitude DVoRA:
 * <pre>
 * VeRA:  y = W x + b + λ_b ⊙ B(λ_d ⊙ A drop(x))
 * DVoRA: y = W x + b + (m/n − 1) ⊙ W drop(x) + (m/n) ⊙ λ_b ⊙ B(λ_d ⊙ A drop(x)),   n = ‖W + λ_b ⊙ B diag(λ_d) A‖ per row
 * </pre>
 * with A, B the first {@code in} columns and {@code out} rows of the shared frozen projections. The update is
 * the low-rank product {@code (λ_b ⊙ B)·(λ_d ⊙ A)}, so the layer runs as a LoRA/DoRA layer with scaling 1 over the
 * scaled projections {@code A' = λ_d ⊙ A: [r, in]} and {@code B' = λ_b ⊙ B: [out, r]}, formed afresh on every
 * forward pass; its backward turns their gradients into those of the vectors:
 * {@code dλ_d[j] = Σ_i dA'[j, i] A[j, i]}, {@code dλ_b[o] = Σ_j dB'[o, j] B[o, j]}. The DoRA norm and its
 * gradient come from {@link LoraAdapter} without forming the dense update.
 */
final class VeraAdapter implements Adapter {
    private final VeraMethod method;
    private final String path;
    private final VeraProjections projections;
    private final Tensor lambdaB;
    private final Tensor lambdaD;
    private final Tensor magnitude;
    /** λ_d ⊙ A[:, :in] and λ_b ⊙ B[:out, :], refreshed from the vectors before each use. */
    private final Tensor scaledA, scaledB;
    private final LoraAdapter layer;

    /**
     * @param lambdaB   [out]
     * @param lambdaD   [r]
     * @param magnitude [out] for DVoRA, null for VeRA
     */
    VeraAdapter(VeraMethod method, String path, VeraProjections projections, Tensor lambdaB, Tensor lambdaD, Tensor magnitude,
            int in, Dropout dropout) {
        int r = projections.rank(), out = lambdaB.numel();
        if (lambdaD.rank() != 1 || lambdaD.dim(0) != r) {
            throw new IllegalArgumentException(path + ": vera_lambda_d " + lambdaD + " does not match the projections' rank " + r);
        }
        if (!projections.fits(out, in)) {
            throw new IllegalArgumentException(path + ": projections vera_A " + projections.veraA() + " / vera_B "
                    + projections.veraB() + " are smaller than the layer [" + out + ", " + in + "]");
        }
        if ((magnitude != null) != method.useDora()) throw new IllegalArgumentException(path + ": " + method + " magnitude " + magnitude);
        this.method = method;
        this.path = path;
        this.projections = projections;
        this.lambdaB = lambdaB;
        this.lambdaD = lambdaD;
        this.magnitude = magnitude;
        boolean trainable = lambdaB.requiresGrad() || lambdaD.requiresGrad();
        this.scaledA = trainable ? Tensor.param(new float[r * in], r, in) : Tensor.of(new float[r * in], r, in);
        this.scaledB = trainable ? Tensor.param(new float[out * r], out, r) : Tensor.of(new float[out * r], out, r);
        this.layer = new LoraAdapter(path, scaledA, scaledB, magnitude, 1f, dropout);
        refresh();
    }

    @Override
    public PeftMethod method() {
        return method;
    }

    public Tensor lambdaB() {
        return lambdaB;
    }

    public Tensor lambdaD() {
        return lambdaD;
    }

    /** The DVoRA magnitude, or null for VeRA. */
    public Tensor magnitude() {
        return magnitude;
    }

    @Override
    public List<AdapterTensor> tensors() {
        // the projections are always saved (save_projection): they cannot be regenerated with torch's generator
        List<AdapterTensor> list = new ArrayList<>();
        list.add(new AdapterTensor(VeraKeys.VERA_A, projections.veraA(), AdapterTensor.Group.FROZEN));
        list.add(new AdapterTensor(VeraKeys.VERA_B, projections.veraB(), AdapterTensor.Group.FROZEN));
        list.add(new AdapterTensor(VeraKeys.lambdaB(path), lambdaB, AdapterTensor.Group.VECTOR));
        list.add(new AdapterTensor(VeraKeys.lambdaD(path), lambdaD, AdapterTensor.Group.VECTOR));
        if (magnitude != null) list.add(new AdapterTensor(VeraKeys.magnitude(path), magnitude, AdapterTensor.Group.MAGNITUDE));
        return list;
    }

    @Override
    public void checkFits(Linear base) {
        if (lambdaB.numel() != base.outFeatures() || scaledA.dim(1) != base.inFeatures()) {
            throw new IllegalArgumentException(base.path() + ": VeRA adapter for [" + lambdaB.numel() + ", " + scaledA.dim(1)
                    + "] does not fit weight [" + base.outFeatures() + ", " + base.inFeatures() + "]");
        }
    }

    @Override
    public String opName() {
        return method.id();
    }

    @Override
    public Dropout dropout() {
        return layer.dropout();
    }

    @Override
    public Tensor forward(Tape tape, Linear base, Tensor x) {
        refresh();
        if (tape.recording() && tape.needsGrad(lambdaB, lambdaD)) {
            // recorded before the layer's own backward, so it runs after it, when dA' and dB' are complete
            tape.record(method.id(), this::vectorGradients);
        }
        return layer.forward(tape, base, x);
    }

    /** dλ_d[j] += Σ_i dA'[j, i] A[j, i], dλ_b[o] += Σ_j dB'[o, j] B[o, j]; the scaled projections' gradients are then spent. */
    private void vectorGradients() {
        int r = projections.rank(), in = scaledA.dim(1), out = scaledB.dim(0), maxIn = projections.maxIn();
        float[] a = projections.veraA().data(), b = projections.veraB().data();
        if (lambdaD.requiresGrad()) {
            float[] ga = scaledA.grad(), gd = lambdaD.grad();
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int i = 0; i < in; i++) s += (double) ga[j * in + i] * a[j * maxIn + i];
                gd[j] += (float) s;
            }
        }
        if (lambdaB.requiresGrad()) {
            float[] gb = scaledB.grad(), gl = lambdaB.grad();
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int j = 0; j < r; j++) s += (double) gb[o * r + j] * b[o * r + j];
                gl[o] += (float) s;
            }
        }
        scaledA.zeroGrad();
        scaledB.zeroGrad();
    }

    /** Forms A' = λ_d ⊙ A[:, :in] and B' = λ_b ⊙ B[:out, :] from the current vectors. */
    private void refresh() {
        projections.scaledA(lambdaD.data(), scaledA.dim(1), scaledA.data());
        projections.scaledB(lambdaB.data(), scaledB.dim(0), scaledB.data());
    }

    @Override
    public void merge(Linear base) {
        refresh();
        layer.merge(base);
    }

    @Override
    public void unmerge(Linear base) {
        refresh();
        layer.unmerge(base);
    }

    @Override
    public void holdNorm(Linear base, boolean hold) {
        refresh();
        layer.holdNorm(base, hold);
    }
}
