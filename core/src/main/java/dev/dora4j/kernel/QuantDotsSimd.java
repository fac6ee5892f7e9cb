package dev.dora4j.kernel;

import java.lang.invoke.MethodHandles;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link QuantDots} on one float species (a template: {@link Specialize} makes one copy per species), for species of
 * 8 or 16 lanes. Int8: L codes widened to floats, the row's sum scaled by SCB/127 at the end. 4-bit: L bytes hold 2L
 * codes; the high nibbles multiply x's even-indexed values and the low nibbles its odd ones, each code looked up in
 * the 16-value table by a lane selection; each block's sum is scaled by its absmax.
 */
final class QuantDotsSimd implements QuantDots {
    private static final VectorSpecies<Float> S = Specialize.species(MethodHandles.lookup());
    private static final int L = S.length();
    private static final boolean WIDE_ENOUGH = L == 8 || L == 16;
    private static final VectorSpecies<Byte> B = WIDE_ENOUGH ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, S.vectorShape());

    QuantDotsSimd() {}

    @Override
    public boolean supports(WeightMatrix w) {
        if (!WIDE_ENOUGH) return false;
        if (w instanceof Int8Matrix) return true;
        return w instanceof FourBitMatrix f && f.cols() % f.blockSize() == 0 && (f.blockSize() / 2) % L == 0;
    }

    @Override
    public void rows(float[] x, int xOff, float[] pairs, WeightMatrix w, int m, int j0, int j1, float[] y, int yOff,
                     boolean acc, float[] cs, float[] cb) {
        int n = w.rows();
        float[] lanes = new float[L];
        float[] table = w instanceof FourBitMatrix f ? QuantCodes.table(f.storage()) : null;
        for (int j = j0; j < j1; j++) {
            for (int i = 0; i < m; i++) {
                float s = w instanceof Int8Matrix q ? int8Row(x, xOff + i * q.cols(), q, j, lanes)
                        : fourBitRow(pairs, i * w.cols(), (FourBitMatrix) w, table, j, lanes);
                int yi = yOff + i * n + j;
                if (acc) s += y[yi];
                if (cs != null) s *= cs[j];
                if (cb != null) s += cb[j];
                y[yi] = s;
            }
        }
    }

    // ⟨x[xi ..], CB_j⟩ · SCB_j / 127; lanes: scratch of L floats (the sum leaves registers through it)
    private static float int8Row(float[] x, int xi, Int8Matrix q, int j, float[] lanes) {
        byte[] codes = q.codes();
        int k = q.cols(), base = j * k, bound = S.loopBound(k);
        FloatVector sum = FloatVector.zero(S);
        for (int p = 0; p < bound; p += L) {
            FloatVector w = (FloatVector) ByteVector.fromArray(B, codes, base + p).convertShape(VectorOperators.B2F, S, 0);
            sum = FloatVector.fromArray(S, x, xi + p).fma(w, sum);
        }
        sum.intoArray(lanes, 0);
        float s = FastExp.sumLanes(lanes, 0, L);
        for (int p = bound; p < k; p++) s += x[xi + p] * codes[base + p];
        return s * q.scb()[j] * Int8Matrix.INV_127;
    }

    // Σ over the blocks of row j of absmax_b · Σ (even x · table[hi] + odd x · table[lo]); pairs at pi: [2, k/2]
    private static float fourBitRow(float[] pairs, int pi, FourBitMatrix f, float[] table, int j, float[] lanes) {
        byte[] packed = f.packed();
        int k = f.cols(), half = k / 2, blockBytes = f.blockSize() / 2;
        FloatVector low = FloatVector.fromArray(S, table, 0), high = L == 8 ? FloatVector.fromArray(S, table, 8) : low;
        int firstBlock = j * (k / f.blockSize()), rowByte = j * half;
        FloatVector total = FloatVector.zero(S);
        for (int b0 = 0, blk = firstBlock; b0 < half; b0 += blockBytes, blk++) {
            FloatVector sum = FloatVector.zero(S);
            for (int q = b0; q < b0 + blockBytes; q += L) {
                IntVector codes = ((IntVector) ByteVector.fromArray(B, packed, rowByte + q)
                        .convertShape(VectorOperators.B2I, I, 0)).and(0xff);
                sum = FloatVector.fromArray(S, pairs, pi + q).fma(lookup(codes.lanewise(VectorOperators.LSHR, 4), low, high), sum);
                sum = FloatVector.fromArray(S, pairs, pi + half + q).fma(lookup(codes.and(15), low, high), sum);
            }
            total = sum.fma(FloatVector.broadcast(S, f.blockAbsmax(blk)), total);
        }
        total.intoArray(lanes, 0);
        return FastExp.sumLanes(lanes, 0, L);
    }

    // table[code] for L codes in 0..15: one selection from the 16-lane table (its bits as ints), or one from each
    // 8-lane half and a blend
    private static FloatVector lookup(IntVector codes, FloatVector low, FloatVector high) {
        if (L == 16) return codes.selectFrom(low.reinterpretAsInts()).reinterpretAsFloats();
        IntVector lane = codes.and(7);
        FloatVector a = lane.selectFrom(low.reinterpretAsInts()).reinterpretAsFloats();
        FloatVector b = lane.selectFrom(high.reinterpretAsInts()).reinterpretAsFloats();
        VectorMask<Float> upper = codes.compare(VectorOperators.GE, 8).cast(S);
        return a.blend(b, upper);
    }
}
