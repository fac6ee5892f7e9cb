package dev.dora4j.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The transposing copy that packs {@code x·Wᵀ}'s right-hand side (rows of W, or of W widened 16 rows at a time for
 * 16-bit and quantised storage, become panel columns), 16 × 16 floats at a time in 512-bit registers (used through
 * {@link GemmPack#transposeCopy}): sixteen row loads, four rounds of pairing row i with row i + 8 (two two-vector
 * rearranges each, a perfect shuffle, so that four rounds transpose the block), sixteen stores. About three times the
 * element-by-element copy (768 × 768: 0.19 against 0.52 ms on one thread). Only worth it where 512-bit vectors are
 * native; the copy is exact, so which path runs never changes a result.
 */
final class Transpose16 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    private static final int L = 16;
    /** Lanes 2i and 2i + 1 of the output are lane i of the first and second input (i < 8) ... */
    private static final VectorShuffle<Float> LOW = interleave(0);
    /** ... and lane i + 8 of each. */
    private static final VectorShuffle<Float> HIGH = interleave(L / 2);
    /** True where 512-bit vectors are native to this machine. */
    static final boolean NATIVE = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512;

    private Transpose16() {}

    // exceptional (negative) indices take the lane from the second vector of rearrange(shuffle, second)
    private static VectorShuffle<Float> interleave(int from) {
        int[] lanes = new int[L];
        for (int i = 0; i < L; i++) lanes[i] = i % 2 == 0 ? from + i / 2 : from + i / 2 - L;
        return VectorShuffle.fromArray(S, lanes, 0);
    }

    /**
     * Column jj of B (a row of the stored matrix) at src + jj·ld, its rows p < depth contiguous -> dst[dOff + p·dld +
     * jj] = B(p, jj) for jj < cols; whole 16 × 16 blocks in registers, the edges element by element.
     */
    static void copy(float[] b, int src, int ld, int depth, int cols, float[] dst, int dOff, int dld) {
        int fullCols = cols & -L, fullDepth = depth & -L;
        for (int jj = 0; jj < fullCols; jj += L) {
            for (int p = 0; p < fullDepth; p += L) block(b, src + jj * ld + p, ld, dst, dOff + p * dld + jj, dld);
            for (int c = jj; c < jj + L; c++) {
                for (int p = fullDepth; p < depth; p++) dst[dOff + p * dld + c] = b[src + c * ld + p];
            }
        }
        for (int c = fullCols; c < cols; c++) {
            for (int p = 0; p < depth; p++) dst[dOff + p * dld + c] = b[src + c * ld + p];
        }
    }

    // the 16 × 16 block with rows at src + i·ld -> its transpose, rows at dst + j·dld
    private static void block(float[] b, int src, int ld, float[] d, int dst, int dld) {
        FloatVector v0 = FloatVector.fromArray(S, b, src), v1 = FloatVector.fromArray(S, b, src + ld);
        FloatVector v2 = FloatVector.fromArray(S, b, src + 2 * ld), v3 = FloatVector.fromArray(S, b, src + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(S, b, src + 4 * ld), v5 = FloatVector.fromArray(S, b, src + 5 * ld);
        FloatVector v6 = FloatVector.fromArray(S, b, src + 6 * ld), v7 = FloatVector.fromArray(S, b, src + 7 * ld);
        FloatVector v8 = FloatVector.fromArray(S, b, src + 8 * ld), v9 = FloatVector.fromArray(S, b, src + 9 * ld);
        FloatVector v10 = FloatVector.fromArray(S, b, src + 10 * ld), v11 = FloatVector.fromArray(S, b, src + 11 * ld);
        FloatVector v12 = FloatVector.fromArray(S, b, src + 12 * ld), v13 = FloatVector.fromArray(S, b, src + 13 * ld);
        FloatVector v14 = FloatVector.fromArray(S, b, src + 14 * ld), v15 = FloatVector.fromArray(S, b, src + 15 * ld);
        // each round: new row 2i, 2i + 1 = row i and row i + 8 interleaved (low halves, high halves)
        for (int round = 0; round < 4; round++) {
            FloatVector t0 = v0.rearrange(LOW, v8), t1 = v0.rearrange(HIGH, v8);
            FloatVector t2 = v1.rearrange(LOW, v9), t3 = v1.rearrange(HIGH, v9);
            FloatVector t4 = v2.rearrange(LOW, v10), t5 = v2.rearrange(HIGH, v10);
            FloatVector t6 = v3.rearrange(LOW, v11), t7 = v3.rearrange(HIGH, v11);
            FloatVector t8 = v4.rearrange(LOW, v12), t9 = v4.rearrange(HIGH, v12);
            FloatVector t10 = v5.rearrange(LOW, v13), t11 = v5.rearrange(HIGH, v13);
            FloatVector t12 = v6.rearrange(LOW, v14), t13 = v6.rearrange(HIGH, v14);
            FloatVector t14 = v7.rearrange(LOW, v15), t15 = v7.rearrange(HIGH, v15);
            v0 = t0; v1 = t1; v2 = t2; v3 = t3; v4 = t4; v5 = t5; v6 = t6; v7 = t7;
            v8 = t8; v9 = t9; v10 = t10; v11 = t11; v12 = t12; v13 = t13; v14 = t14; v15 = t15;
        }
        v0.intoArray(d, dst); v1.intoArray(d, dst + dld); v2.intoArray(d, dst + 2 * dld); v3.intoArray(d, dst + 3 * dld);
        v4.intoArray(d, dst + 4 * dld); v5.intoArray(d, dst + 5 * dld); v6.intoArray(d, dst + 6 * dld);
        v7.intoArray(d, dst + 7 * dld); v8.intoArray(d, dst + 8 * dld); v9.intoArray(d, dst + 9 * dld);
        v10.intoArray(d, dst + 10 * dld); v11.intoArray(d, dst + 11 * dld); v12.intoArray(d, dst + 12 * dld);
        v13.intoArray(d, dst + 13 * dld); v14.intoArray(d, dst + 14 * dld); v15.intoArray(d, dst + 15 * dld);
    }
}
