package dev.dora4j.peft.vera;

import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterWeights;
import dev.dora4j.peft.ModuleWeights;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;

/**
 * One module's VeRA/DVoRA vectors as read from a file, with the projections the file shares between modules.
 * The file does not record a layer's input width; any {@code in} up to the projections' width fits.
 *
 * @param lambdaB   [out]
 * @param lambdaD   [r]
 * @param magnitude [out] for DVoRA, null for VeRA
 */
record VeraWeights(String path, VeraProjections projections, float[] lambdaB, float[] lambdaD, float[] magnitude)
        implements ModuleWeights {
    @Override
    public int rank() {
        return lambdaD.length;
    }

    @Override
    public boolean fits(int out, int in) {
        return out == lambdaB.length && projections.fits(out, in);
    }

    @Override
    public String shapes() {
        return "[" + lambdaB.length + "] and vera_lambda_d [" + lambdaD.length + "] with vera_A "
                + Arrays.toString(projections.veraA().shape()) + " and vera_B " + Arrays.toString(projections.veraB().shape());
    }

    @Override
    public String shapesFitting(int out, int in) {
        return "[" + out + "] with vera_A at least [" + rank() + ", " + in + "] and vera_B at least [" + out + ", " + rank() + "]";
    }

    /** Row o of W + λ_b[o]·B[o, :]·diag(λ_d)·A[:, :in], then DVoRA's m / ‖row‖, in double precision. */
    @Override
    public void mergeRow(int o, double[] row) {
        int in = row.length, r = rank(), maxIn = projections.maxIn();
        float[] a = projections.veraA().data(), b = projections.veraB().data();
        for (int j = 0; j < r; j++) {
            double c = (double) lambdaB[o] * b[o * r + j] * lambdaD[j];
            if (c == 0) continue;
            for (int i = 0; i < in; i++) row[i] += c * a[j * maxIn + i];
        }
        if (magnitude != null) AdapterWeights.scaleRow(row, in, magnitude[o]);
    }

    /** The merged weight as {@link VeraAdapter#merge} forms it. */
    @Override
    public float[] merge(float[] w, int rows, int cols) {
        Linear layer = new Linear(path, Tensor.of(w.clone(), rows, cols), null);
        VeraMethod method = magnitude == null ? VeraMethod.VERA : VeraMethod.DVORA;
        layer.adapter(new VeraAdapter(method, path, projections, Tensor.of(lambdaB, lambdaB.length), Tensor.of(lambdaD, lambdaD.length),
                magnitude == null ? null : Tensor.of(magnitude, magnitude.length), cols, null));
        layer.merge();
        return layer.weight().toFloatArray();
    }
}
