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
 * the 16-value table by a lane selection; each block's sum is scaled by its absmax. Sums run in two accumulators
 * (one FMA chain per two vectors) and leave registers through a scratch array; where a block is two vectors of
 * codes (NF4 blocks of 64 at 16 lanes) one loop does a block per trip (C2 compiles a nested loop of two trips at half
 * the speed, and at a speed that varied between processes).
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
        FourBitMatrix f = w instanceof FourBitMatrix four ? four : null;
        float[] table = f != null ? QuantCodes.table(f.storage()) : null;
        int blocksPerRow = f != null ? f.cols() / f.blockSize() : 0;
        boolean nested = f != null && f.absmax() == null;
        float[] widened = nested ? new float[blocksPerRow] : null;   // a double-quantised row's absmax values
        // sums leave registers through this scratch and are added in a fixed order (reduceLanes' order differs
        // between the interpreter and compiled code, so results would change as the method warms up)
        float[] lanes = new float[L];
        for (int j = j0; j < j1; j++) {
            float[] scales = null;
            int first = 0;
            if (nested) {
                for (int b = 0; b < blocksPerRow; b++) widened[b] = f.blockAbsmax(j * blocksPerRow + b);
                scales = widened;
            } else if (f != null) {
                scales = f.absmax();
                first = j * blocksPerRow;
            }
            for (int i = 0; i < m; i++) {
                float s = f == null ? int8Row(x, xOff + i * w.cols(), (Int8Matrix) w, j, lanes)
                        : fourBitRow(pairs, i * w.cols(), f, table, j, scales, first, lanes);
                int yi = yOff + i * n + j;
                if (acc) s += y[yi];
                if (cs != null) s *= cs[j];
                if (cb != null) s += cb[j];
                y[yi] = s;
            }
        }
    }

    // ⟨x[xi ..], CB_j⟩ · SCB_j / 127
    private static float int8Row(float[] x, int xi, Int8Matrix q, int j, float[] lanes) {
        byte[] codes = q.codes();
        int k = q.cols(), base = j * k, bound = S.loopBound(k);
        FloatVector s0 = FloatVector.zero(S), s1 = s0;   // two running sums: half the chain of dependent FMAs
        int p = 0;
        for (; p + L < bound; p += 2 * L) {
            s0 = FloatVector.fromArray(S, x, xi + p).fma(widen(codes, base + p), s0);
            s1 = FloatVector.fromArray(S, x, xi + p + L).fma(widen(codes, base + p + L), s1);
        }
        if (p < bound) s0 = FloatVector.fromArray(S, x, xi + p).fma(widen(codes, base + p), s0);
        s0.add(s1).intoArray(lanes, 0);
        float s = FastExp.sumLanes(lanes, 0, L);
        for (p = bound; p < k; p++) s += x[xi + p] * codes[base + p];
        return s * q.scb()[j] * Int8Matrix.INV_127;
    }

    // L int8 codes at codes[off] as floats
    private static FloatVector widen(byte[] codes, int off) {
        return (FloatVector) ByteVector.fromArray(B, codes, off).convertShape(VectorOperators.B2F, S, 0);
    }

    // Σ over the blocks of row j of absmax_b · Σ (even x · table[hi] + odd x · table[lo]); pairs at pi: [2, k/2];
    // scales[first + b]: the absmax of the row's block b
    private static float fourBitRow(float[] pairs, int pi, FourBitMatrix f, float[] table, int j, float[] scales,
                                    int first, float[] lanes) {
        byte[] packed = f.packed();
        int half = f.cols() / 2, blockBytes = f.blockSize() / 2, rowByte = j * half;
        FloatVector low = FloatVector.fromArray(S, table, 0), high = L == 8 ? FloatVector.fromArray(S, table, 8) : low;
        FloatVector t0 = FloatVector.zero(S), t1 = t0;
        if (blockBytes == 2 * L) {
            // a block is two vectors of codes, each summed into its own running sum: the chain of dependent FMAs is
            // one per block, and the loop has one trip count (C2 compiles nested loops of two trips much slower)
            for (int q = 0, blk = first; q < half; q += 2 * L, blk++) {
                IntVector c0 = codes(packed, rowByte + q), c1 = codes(packed, rowByte + q + L);
                FloatVector h0 = lookup(c0.lanewise(VectorOperators.LSHR, 4).and(15), low, high);
                FloatVector l0 = lookup(c0.and(15), low, high);
                FloatVector h1 = lookup(c1.lanewise(VectorOperators.LSHR, 4).and(15), low, high);
                FloatVector l1 = lookup(c1.and(15), low, high);
                FloatVector s0 = FloatVector.fromArray(S, pairs, pi + q).mul(h0)
                        .add(FloatVector.fromArray(S, pairs, pi + half + q).mul(l0));
                FloatVector s1 = FloatVector.fromArray(S, pairs, pi + q + L).mul(h1)
                        .add(FloatVector.fromArray(S, pairs, pi + half + q + L).mul(l1));
                FloatVector a = FloatVector.broadcast(S, scales[blk]);
                t0 = s0.fma(a, t0);
                t1 = s1.fma(a, t1);
            }
        } else {
            for (int b0 = 0, blk = first; b0 < half; b0 += blockBytes, blk++) {
                FloatVector sum = FloatVector.zero(S);
                for (int q = b0; q < b0 + blockBytes; q += L) {
                    IntVector c = codes(packed, rowByte + q);
                    sum = FloatVector.fromArray(S, pairs, pi + q).fma(lookup(c.lanewise(VectorOperators.LSHR, 4).and(15), low, high), sum);
                    sum = FloatVector.fromArray(S, pairs, pi + half + q).fma(lookup(c.and(15), low, high), sum);
                }
                t0 = sum.fma(FloatVector.broadcast(S, scales[blk]), t0);
            }
        }
        t0.add(t1).intoArray(lanes, 0);
        return FastExp.sumLanes(lanes, 0, L);
    }

    // L bytes of codes at packed[b], one per int lane (sign-extended: mask before use)
    private static IntVector codes(byte[] packed, int b) {
        return (IntVector) ByteVector.fromArray(B, packed, b).convertShape(VectorOperators.B2I, I, 0);
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
