package dev.dora4j.analysis;

import dev.dora4j.kernel.Parallel;

/**
 * The magnitude and direction change of a weight against the pretrained one, row by row, in double
 * precision: {@code deltaM = mean_rows |‖W_t,row‖ − ‖W_0,row‖|}, {@code deltaD = mean_rows (1 − cos)}.
 * A row whose norm is zero on one side only counts as orthogonal (cos 0); zero on both sides, as unchanged
 * (cos 1). Rows are produced one at a time, so {@code W_t} need never exist as a whole matrix.
 */
public final class WeightDeltas {
    /** The mean changes over the output rows. */
    public record Delta(double deltaM, double deltaD) {}

    /** Produces the rows of {@code W_t}. */
    @FunctionalInterface
    public interface RowSource {
        /** Writes row {@code o} of {@code W_t} into {@code row} (length = in). */
        void fill(int o, double[] row);
    }

    private static final int ROW_GRAIN = 16;

    private WeightDeltas() {}

    /** w: [out, in] and w0: [out, in] as explicit matrices. */
    public static Delta between(float[] w, float[] w0, int out, int in) {
        return measure(new Matrix("W_0", w0, out, in), explicit(w, in));
    }

    /** The rows of an explicit [out, in] matrix. */
    public static RowSource explicit(float[] w, int in) {
        return (o, row) -> {
            for (int i = 0, base = o * in; i < in; i++) row[i] = w[base + i];
        };
    }

    /** {@code W_t}'s rows from {@code rows} against {@code w0}; rows are handled in parallel, summed in row order. */
    public static Delta measure(Matrix w0, RowSource rows) {
        int out = w0.rows(), in = w0.cols();
        double[] magnitude = new double[out], direction = new double[out];
        float[] base = w0.data();
        Parallel.range(out, ROW_GRAIN, (start, end) -> {
            double[] row = new double[in];
            for (int o = start; o < end; o++) {
                rows.fill(o, row);
                double tt = 0, bb = 0, tb = 0;
                for (int i = 0, at = o * in; i < in; i++, at++) {
                    double b = base[at];
                    tt += row[i] * row[i];
                    bb += b * b;
                    tb += row[i] * b;
                }
                double nt = Math.sqrt(tt), nb = Math.sqrt(bb);
                magnitude[o] = Math.abs(nt - nb);
                direction[o] = 1.0 - cosine(tb, nt, nb);
            }
        });
        double m = 0, d = 0;
        for (int o = 0; o < out; o++) {
            m += magnitude[o];
            d += direction[o];
        }
        return new Delta(m / out, d / out);
    }

    private static double cosine(double dot, double normT, double normBase) {
        if (normT > 0 && normBase > 0) return dot / (normT * normBase);
        return normT == 0 && normBase == 0 ? 1.0 : 0.0;
    }
}
