package dev.dora4j.kernel;

import java.lang.invoke.MethodHandles;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** The vector primitives on one vector species (a template: {@link Specialize} makes one copy per species). */
final class VecOpsSimd implements VecOpsKernel {
    private static final VectorSpecies<Float> S = Specialize.species(MethodHandles.lookup());
    private static final int L = S.length();
    /** Row operations hand each thread at least this many elements. */
    private static final int PARALLEL_GRAIN = 1 << 15;

    VecOpsSimd() {}

    @Override
    public VectorSpecies<Float> species() {
        return S;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        return dot0(a, aOff, b, bOff, n);
    }

    private static float dot0(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i <= n - 4 * L; i += 4 * L) {
            s0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), s0);
            s1 = FloatVector.fromArray(S, a, aOff + i + L).fma(FloatVector.fromArray(S, b, bOff + i + L), s1);
            s2 = FloatVector.fromArray(S, a, aOff + i + 2 * L).fma(FloatVector.fromArray(S, b, bOff + i + 2 * L), s2);
            s3 = FloatVector.fromArray(S, a, aOff + i + 3 * L).fma(FloatVector.fromArray(S, b, bOff + i + 3 * L), s3);
        }
        for (; i <= n - L; i += L) {
            s0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), s0);
        }
        float s = FastExp.sumLanes(s0.add(s1).add(s2.add(s3)));
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        FloatVector av = FloatVector.broadcast(S, alpha);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            av.fma(FloatVector.fromArray(S, x, xOff + i), FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
    }

    @Override
    public void mulAdd(float[] a, int aOff, float[] b, int bOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector p = FloatVector.fromArray(S, a, aOff + i).mul(FloatVector.fromArray(S, b, bOff + i));
            FloatVector.fromArray(S, y, yOff + i).add(p).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] = y[yOff + i] + a[aOff + i] * b[bOff + i];
    }

    @Override
    public void scale(float alpha, float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, x, off + i).mul(alpha).intoArray(x, off + i);
        }
        for (; i < n; i++) x[off + i] *= alpha;
    }

    @Override
    public void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        Objects.checkFromIndexSize(outOff, n, out.length);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = a[aOff + i] + b[bOff + i];
    }

    @Override
    public float sumSquares(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        return dot0(x, off, x, off, n);
    }

    @Override
    public void rowSumSquares(float[] w, int off, int rows, int cols, float[] out) {
        Objects.checkFromIndexSize(off, (long) rows * cols, w.length);
        Objects.checkFromIndexSize(0, rows, out.length);
        Parallel.range(rows, grainRows(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) out[r] = dot0(w, off + r * cols, w, off + r * cols, cols);
        });
    }

    @Override
    public void rowDots(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] out) {
        Objects.checkFromIndexSize(aOff, (long) rows * cols, a.length);
        Objects.checkFromIndexSize(bOff, (long) rows * cols, b.length);
        Objects.checkFromIndexSize(0, rows, out.length);
        Parallel.range(rows, grainRows(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) out[r] = dot0(a, aOff + r * cols, b, bOff + r * cols, cols);
        });
    }

    @Override
    public void columnMulAdd(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] y) {
        Objects.checkFromIndexSize(aOff, (long) rows * cols, a.length);
        Objects.checkFromIndexSize(bOff, (long) rows * cols, b.length);
        Objects.checkFromIndexSize(0, cols, y.length);
        int width = 4 * L, blocks = (cols + width - 1) / width;
        Parallel.range(blocks, (int) Math.max(1, PARALLEL_GRAIN / Math.max(1L, (long) rows * width)), (q0, q1) -> {
            for (int q = q0; q < q1; q++) {
                int c0 = q * width, c1 = Math.min(cols, c0 + width);
                if (c1 - c0 == width) columnBlock(a, aOff, b, bOff, rows, cols, c0, y);
                else columnTail(a, aOff, b, bOff, rows, cols, c0, c1, y);
            }
        });
    }

    // columns [c0, c0 + 4·L): the four sums stay in registers down the rows
    private static void columnBlock(float[] a, int aOff, float[] b, int bOff, int rows, int cols, int c0, float[] y) {
        FloatVector y0 = FloatVector.fromArray(S, y, c0), y1 = FloatVector.fromArray(S, y, c0 + L);
        FloatVector y2 = FloatVector.fromArray(S, y, c0 + 2 * L), y3 = FloatVector.fromArray(S, y, c0 + 3 * L);
        for (int r = 0; r < rows; r++) {
            int ai = aOff + r * cols + c0, bi = bOff + r * cols + c0;
            y0 = y0.add(FloatVector.fromArray(S, a, ai).mul(FloatVector.fromArray(S, b, bi)));
            y1 = y1.add(FloatVector.fromArray(S, a, ai + L).mul(FloatVector.fromArray(S, b, bi + L)));
            y2 = y2.add(FloatVector.fromArray(S, a, ai + 2 * L).mul(FloatVector.fromArray(S, b, bi + 2 * L)));
            y3 = y3.add(FloatVector.fromArray(S, a, ai + 3 * L).mul(FloatVector.fromArray(S, b, bi + 3 * L)));
        }
        y0.intoArray(y, c0);
        y1.intoArray(y, c0 + L);
        y2.intoArray(y, c0 + 2 * L);
        y3.intoArray(y, c0 + 3 * L);
    }

    // columns [c0, c1), fewer than 4·L: whole vectors, then single columns
    private static void columnTail(float[] a, int aOff, float[] b, int bOff, int rows, int cols, int c0, int c1,
                                   float[] y) {
        int c = c0;
        for (; c + L <= c1; c += L) {
            FloatVector acc = FloatVector.fromArray(S, y, c);
            for (int r = 0; r < rows; r++) {
                int o = r * cols + c;
                acc = acc.add(FloatVector.fromArray(S, a, aOff + o).mul(FloatVector.fromArray(S, b, bOff + o)));
            }
            acc.intoArray(y, c);
        }
        for (; c < c1; c++) {
            float acc = y[c];
            for (int r = 0; r < rows; r++) acc = acc + a[aOff + r * cols + c] * b[bOff + r * cols + c];
            y[c] = acc;
        }
    }

    @Override
    public void softmaxRows(float[] x, int off, int rows, int cols) {
        Objects.checkFromIndexSize(off, (long) rows * cols, x.length);
        Parallel.range(rows, grainRows(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) softmax(x, off + r * cols, cols);
        });
    }

    // x: [n] at off, in place
    private static void softmax(float[] x, int off, int n) {
        int bound = S.loopBound(n), i = 0;
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; i < bound; i += L) mv = mv.max(FloatVector.fromArray(S, x, off + i));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        FloatVector sv = FloatVector.zero(S);
        for (i = 0; i < bound; i += L) {
            FloatVector e = FastExp.exp(FloatVector.fromArray(S, x, off + i).sub(max));
            e.intoArray(x, off + i);
            sv = sv.add(e);
        }
        float sum = FastExp.sumLanes(sv);
        for (; i < n; i++) {
            float e = FastExp.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (i = 0; i < bound; i += L) FloatVector.fromArray(S, x, off + i).mul(inv).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= inv;
    }

    private static int grainRows(int cols) {
        return Math.max(1, PARALLEL_GRAIN / Math.max(1, cols));
    }

    @Override
    public void gelu(float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            v.mul(0.5f).mul(Gelu.twicePhi(v)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] = Gelu.gelu(x[xOff + i]);
    }

    @Override
    public void geluBackward(float[] x, int xOff, float[] g, int gOff, float[] gx, int gxOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(gOff, n, g.length);
        Objects.checkFromIndexSize(gxOff, n, gx.length);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            FloatVector d = Gelu.derivative(v);
            FloatVector.fromArray(S, g, gOff + i).mul(d).add(FloatVector.fromArray(S, gx, gxOff + i)).intoArray(gx, gxOff + i);
        }
        for (; i < n; i++) gx[gxOff + i] = gx[gxOff + i] + g[gOff + i] * Gelu.derivative(x[xOff + i]);
    }
}
