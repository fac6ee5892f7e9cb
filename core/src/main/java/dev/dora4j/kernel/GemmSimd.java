package dev.dora4j.kernel;

import java.lang.invoke.MethodHandles;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The matrix products on one vector species (a template: {@link Specialize} makes one copy per species).
 *
 * <p>All three layouts reduce to one blocked product {@code C[M, N] (+)= A[M, K]·B[K, N]} where A is read in place
 * through row and column strides and B is packed into panels of {@code NR} vectors per row (plus one-vector panels
 * for the leftover columns; a product with few rows reads a B with contiguous rows in place, as such panels with the
 * row stride of B; x·Wᵀ's B, W's rows, is transposed 16 × 16 at a time by {@link Transpose16} where 512-bit
 * vectors are native). Against packed panels, a block of A with contiguous rows is copied per thread so that the
 * micro-kernel reads it at constant strides. A register-blocked micro-kernel keeps a tile of {@code MR × NR} vectors
 * of C in registers and adds one rank-1 update per step of depth: {@code NR} loads of B, {@code MR} broadcasts of A and
 * {@code MR·NR} fused multiply-adds. One-vector panels use a tile of {@code 2·MR × 1} vectors, enough independent
 * sums to hide the latency of the multiply-adds. Threads split the output by whole micro-tile rows or whole panels,
 * so no two threads write the same cache line. x·Wᵀ with only a few rows (decoding) skips the packing and takes dot
 * products of rows instead.
 */
final class GemmSimd implements GemmKernel {
    private static final VectorSpecies<Float> S = Specialize.species(MethodHandles.lookup());
    private static final int L = S.length();
    /** Rows of the micro-tile. */
    private static final int MR = 6;
    /** Vectors per row of the micro-tile. */
    private static final int NR = 4;
    private static final int NRL = NR * L;
    /** Depth per block (see {@link #depthBlock}). */
    private static final int KC = depthBlock(L);
    /** Rows per block of A that each B micro-panel is used against (a multiple of 2·MR). */
    private static final int MC = 24 * MR;
    /** Upper bound on the floats of one packed column block of B. */
    private static final int PACK_FLOATS = 1 << 21;
    /** Rows of B per share of the packing when a block has too few panels to give every thread two. */
    private static final int PACK_DEPTH = 1024;
    /** B deeper than this is packed this many rows at a time (see {@link #deepDepth}). */
    private static final int DEEP_K = deepDepth(L);
    /** A packed B up to this many floats is packed by every thread for itself, saving a round of hand-offs. */
    private static final int PRIVATE_PACK_FLOATS = 1 << 15;
    /**
     * Products with at most this many rows read a float B with contiguous rows in place instead of packing it (the
     * weight gradients of low-rank adapters: r rows against a layer's input or output gradient).
     */
    private static final int IN_PLACE_M = 64;
    /** Products with fewer multiply-adds than this run on the calling thread. */
    private static final long PARALLEL_MACS = 1L << 18;
    /**
     * x·Wᵀ with at most this many rows (decoding batches) is done as dot products over W's rows in place, each block
     * of W's rows read once for all rows of x; packing W into panels costs more than the arithmetic it saves until
     * about 64 rows (F32 decode steps of the base shape: 16 rows 0.080 s in place against 0.114 s packed, 32 rows
     * 0.138 against 0.163, 64 rows 0.250 against 0.147).
     */
    private static final int DOT_M = 32;
    /**
     * As {@link #DOT_M} for a 16-bit or quantised W: up to this many rows decoded in registers for every row of x,
     * up to {@link #WIDENED_DOT_M} widened a block of rows at a time and shared by all rows of x (llama1b BF16 decode
     * steps: 16 rows 0.31 s in registers, 0.36 s widened, 1.32 s packed; 64 rows 1.33, 0.97 and 1.47 s; NF4: 16
     * rows 0.63 s in registers against 0.90 s widened, 32 rows 2.00 against 1.18 s).
     */
    private static final int REGISTER_DOT_M = 16;
    private static final int WIDENED_DOT_M = 64;
    /**
     * Few-row products shallower than this (the B products of low-rank adapters) go through the packed GEMM: dot
     * products of one or two vectors spend their time in the lane sums.
     */
    private static final int NARROW_K = 2 * L;
    /**
     * x·Wᵀ with a float W and more than {@link #DOT_M} but at most this many rows of x is computed as (W·xᵀ)ᵀ (see
     * {@link #xWtSwapped}): packing W's rows into panels means transposing all of W on every call, which at a few
     * hundred rows of x costs a fifth of the product (2 threads, 256 rows against llama1b's and qwen05b's weights:
     * 235-267 GFLOP/s packed, 288-334 swapped; in a llama1b LoRA step the adapters' forward went from 2.14 to 1.82 s).
     * At 512 rows the two ways tie inside a training step (base DoRA's forward 0.358-0.364 s packed, 0.365-0.377
     * swapped), so larger products keep packing W. g·W with more than {@link #IN_PLACE_M} and at most this many rows
     * of g, W at most {@link #DEEP_K} rows deep, is computed as (Wᵀ·gᵀ)ᵀ for the same reason ({@link #gWSwapped}: 2
     * threads, 256 rows, best of 20 calls, 245-310 GFLOP/s packed against 275-335 swapped, the same except for k_proj's
     * 512 x 2048 W, 295-310 against 292-301; llama1b LoRA's adapter backward 2.39 and 2.63 s per step before, 2.03 and
     * 1.91 s after).
     */
    private static final int SWAP_M = 256;
    /**
     * The least depth at which the swapped products pay: 256 at 16 lanes (a 64 KiB panel of x or g). Not tied to
     * {@link #KC}: with depth blocks of 768 and this at 768 too, 256 rows against depths of 512 and 640 ran at
     * 299-305 GFLOP/s (2 threads, all shapes, three processes) against 323-328 swapped.
     */
    private static final int SWAP_DEPTH = Math.max(64, 16384 / NRL);

    /** Few-row products with a bf16 weight, widened in registers. */
    private static final Bf16Dots BF16 = Specialize.copy(Bf16DotsSimd.class, Bf16Dots.class, S);

    /** Few-row products with an int8 or 4-bit weight, decoded in registers. */
    private static final QuantDots QUANT = Specialize.copy(QuantDotsSimd.class, QuantDots.class, S);

    private static final ThreadLocal<float[][]> PACK = ThreadLocal.withInitial(() -> new float[][] {new float[0]});
    /** Each thread's scratch micro-tile ({@code block} starts no other product, so a thread is in one block at a time). */
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NRL]);
    /**
     * Each thread's copy of the block of A that packed wide panels are multiplied by: [MC, KC], row stride KC. Read
     * in place, A's six rows are six streams a variable stride apart, each load with its own bounds check, and rows
     * a power of two apart fall into the same cache sets; from the copy they are constant offsets of one index.
     */
    private static final ThreadLocal<float[]> A_BLOCK = ThreadLocal.withInitial(() -> new float[MC * KC]);
    /** Each thread's block of (W·xᵀ) rows, [MC, m], before it is transposed into x·Wᵀ ({@link #xWtSwapped}). */
    private static final ThreadLocal<float[][]> SWAPPED = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    GemmSimd() {}

    /**
     * The depth of one block of the product at {@code lanes} floats per vector: the micro-kernel sums this many steps
     * in registers before its tile is added into C. At 16 lanes it is 768 (a B micro-panel of 192 KiB and an A block of
     * 432 KiB, both in a 1 MiB L2): every layer of the base shape (depth 768 or 2048) then passes over C once or three
     * times instead of three or eight, and a product of 512 rows ran at 335-378 GFLOP/s on 2 threads against 313-343
     * with blocks of 256 (three fresh processes each, best of 1.5 s per shape; 256 rows of llama1b's and qwen05b's
     * shapes: x·Wᵀ 318-348 against 300-335). Narrower vectors keep a B micro-panel of 64 KiB (not measured otherwise).
     */
    static int depthBlock(int lanes) {
        return lanes >= 16 ? 768 : Math.max(64, 16384 / (NR * lanes));
    }

    /**
     * Rows of a deep B packed at a time at {@code lanes} floats per vector, a multiple of {@link #depthBlock} so that
     * each share's sums reach C in the order they would undivided: 32 blocks, or at 16 lanes 10 (7680 rows), so that
     * a column block within the packing budget still holds four panels.
     */
    static int deepDepth(int lanes) {
        return (lanes >= 16 ? 10 : 32) * depthBlock(lanes);
    }

    @Override
    public VectorSpecies<Float> species() {
        return S;
    }

    @Override
    public void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n, boolean acc,
                    float[] colScale, float[] colBias) {
        GemmChecks.xWt(x, xOff, w, wOff, y, yOff, m, k, n);
        GemmChecks.vector("colScale", colScale, n);
        GemmChecks.vector("colBias", colBias, n);
        if (k >= NARROW_K && m <= DOT_M) {
            dotProducts(x, xOff, k, w, wOff, k, m, n, k, y, yOff, n, acc, colScale, colBias);
        } else if (swaps(m, 0, k, n)) {
            xWtSwapped(x, xOff, rowsOf(w, wOff, k), y, yOff, m, k, n, acc, colScale, colBias, null);
        } else {
            gemm(m, n, k, x, xOff, k, 1, w, wOff, 1, k, null, y, yOff, n, acc, colScale, colBias);
        }
    }

    // x·Wᵀ (and r more rows against the same W) is computed as (W·xᵀ)ᵀ: few enough rows of x, W at least SWAP_DEPTH
    // deep (worth packing x) and shallow enough for one packed block, and wide enough to keep every thread busy on row
    // tiles of W
    private static boolean swaps(int m, int r, int k, int n) {
        return m > DOT_M && m <= SWAP_M && k >= SWAP_DEPTH && k <= DEEP_K && n >= 2 * MC
                && (long) k * (m + r + L) <= 2L * PACK_FLOATS;
    }

    // g·W (g: [m, n], W: [n, k]) is computed as (Wᵀ·gᵀ)ᵀ: more rows of g than are read against W in place, few enough
    // to pack g, W at least SWAP_DEPTH rows deep but at most DEEP_K (a deeper W, an output head, takes packed panels
    // split by columns: see gemm) and wide enough to keep every thread busy
    private static boolean gWSwaps(int m, int n, int k) {
        return m > IN_PLACE_M && m <= SWAP_M && n >= SWAP_DEPTH && n <= DEEP_K && k >= 2 * MC;
    }

    /**
     * y = (acc ? y : 0) + x·Wᵀ, then times cs and plus cb per column (each may be null), and ay = A·Wᵀ for the r rows
     * of extra's A (or none), computed as (W·[x; A]ᵀ)ᵀ: x and A (m + r rows) are packed into panels once, and W's rows
     * are copied into the micro-kernel's A block as they are instead of being transposed into panels. Each thread takes
     * a range of W's rows, MC at a time: their products with every row of x and A go into a scratch [MC, m + r], which
     * is then transposed into the columns of y and ay. Every element is the same sum in the same order as the other
     * way round (over depth in blocks of KC, then scaled, then biased): the same bits.
     */
    private static void xWtSwapped(float[] x, int xOff, ASource w, float[] y, int yOff, int m, int k, int n,
                                   boolean acc, float[] cs, float[] cb, Rows extra) {
        int r = extra == null ? 0 : extra.rows(), cols = m + r;
        int wide = cols / NRL, panels = wide + (cols - wide * NRL + L - 1) / L;
        float[] bp = packBuffer(k * (cols + L));
        packSwapped(x, xOff, k, m, extra, k, wide, panels, bp);
        // s row i - i0 = row i of W·[x; A]ᵀ = column i of y, then of ay
        swappedBlocks(w, n, k, bp, wide, panels, cols, y, yOff, m, acc, (s, i0, rows) -> {
            if (cs != null || cb != null) scaleRows(s, cols, m, rows, cs, cb, i0);
            if (r > 0) GemmPack.transposeCopy(s, m, cols, r, rows, extra.c(), extra.cOff() + i0, n, Transpose16.NATIVE);
        });
    }

    /** What a swapped product does with a block of its scratch before the first m columns are stored. */
    @FunctionalInterface
    interface SwappedTail {
        void apply(float[] s, int i0, int rows);
    }

    // rows [0, n) of A·B, A from a (depth given) and B the packed panels bp (cols wide), MC rows at a time per thread
    // into a scratch [MC, cols]; its first m columns are the columns of c ([m, n] at cOff, added into when load), after
    // tail (or null) has seen the block
    private static void swappedBlocks(ASource a, int n, int depth, float[] bp, int wide, int panels, int cols,
                                      float[] c, int cOff, int m, boolean load, SwappedTail tail) {
        run(true, (n + MR - 1) / MR, (t0, t1) -> {
            float[] s = swappedScratch(MC * cols);
            int end = Math.min(n, t1 * MR);
            for (int i0 = t0 * MR; i0 < end; i0 += MC) {
                int rows = Math.min(MC, end - i0);
                if (load) GemmPack.transposeCopy(c, cOff + i0, n, rows, m, s, 0, cols, Transpose16.NATIVE);
                block(i0, i0 + rows, 0, panels, wide, cols, depth, null, 0, 0, 0, bp, 0, 0, s, -i0 * cols, cols, 0,
                        load, null, null, a);
                if (tail != null) tail.apply(s, i0, rows);
                GemmPack.transposeCopy(s, 0, cols, m, rows, c, cOff + i0, n, Transpose16.NATIVE);
            }
        });
    }

    // the panels of B = [x; A]ᵀ (B(p, j) = x[j·ldx + p] for j < m, A[(j - m)·k + p] after, p < k), each zero-padded
    // to its width; by panels, and by ranges of depth too when there are few panels
    private static void packSwapped(float[] x, int xOff, int ldx, int m, Rows extra, int k, int wide, int panels,
                                    float[] bp) {
        int cols = m + (extra == null ? 0 : extra.rows());
        packPanels(panels, k, (q, p0, p1) -> {
            int col = column(q, wide), width = q < wide ? NRL : L, n = Math.min(width, cols - col);
            int d = col * k + p0 * width, fromX = Math.max(0, Math.min(n, m - col));
            if (fromX > 0) {
                GemmPack.transposeCopy(x, xOff + col * ldx + p0, ldx, p1 - p0, fromX, bp, d, width, Transpose16.NATIVE);
            }
            if (n > fromX) {
                int a0 = col + fromX - m;
                GemmPack.transposeCopy(extra.a(), extra.aOff() + a0 * k + p0, k, p1 - p0, n - fromX, bp, d + fromX,
                        width, Transpose16.NATIVE);
            }
            if (n < width) {
                for (int p = 0; p < p1 - p0; p++) Arrays.fill(bp, d + p * width + n, d + (p + 1) * width, 0f);
            }
        });
    }

    // the first m values of row r < rows of s (rows ld apart) times cs[i0 + r], then plus cb[i0 + r] (either may be
    // null)
    private static void scaleRows(float[] s, int ld, int m, int rows, float[] cs, float[] cb, int i0) {
        for (int r = 0; r < rows; r++) {
            FloatVector f = cs == null ? null : FloatVector.broadcast(S, cs[i0 + r]);
            FloatVector b = cb == null ? null : FloatVector.broadcast(S, cb[i0 + r]);
            int o = r * ld, j = 0;
            for (int bound = S.loopBound(m); j < bound; j += L) {
                FloatVector v = FloatVector.fromArray(S, s, o + j);
                if (f != null) v = v.mul(f);
                if (b != null) v = v.add(b);
                v.intoArray(s, o + j);
            }
            for (; j < m; j++) {
                float v = s[o + j];
                if (cs != null) v *= cs[i0 + r];
                if (cb != null) v += cb[i0 + r];
                s[o + j] = v;
            }
        }
    }

    @Override
    public void gW(float[] g, int gOff, float[] w, int wOff, float[] rowScale, float[] dx, int dxOff, int m, int n,
                   int k, boolean acc) {
        GemmChecks.gW(g, gOff, w, wOff, dx, dxOff, m, n, k);
        GemmChecks.vector("rowScale", rowScale, n);
        if (gWSwaps(m, n, k)) {
            gWSwapped(g, gOff, columnsOf(w, wOff, k, rowScale), dx, dxOff, m, n, k, acc);
        } else {
            gemm(m, k, n, g, gOff, n, 1, w, wOff, k, 1, rowScale, dx, dxOff, k, acc, null, null);
        }
    }

    /**
     * dx = (acc ? dx : 0) + g·diag(ps)·W computed as (Wᵀ·diag(ps)·gᵀ)ᵀ, for the reason {@link #xWtSwapped} gives: g
     * (m rows) is packed into panels, and each thread copies blocks of W's columns, scaled by ps per row of W, into the
     * micro-kernel's A block (w: W's columns, see {@link #columnsOf}). Every element is the same sum in the same order
     * as the other way round (each product ps[p]·W[p, i] rounded once, then times g[j, p] in a fused multiply-add,
     * over depth in blocks of KC): the same bits.
     */
    private static void gWSwapped(float[] g, int gOff, ASource w, float[] dx, int dxOff, int m, int n, int k,
                                  boolean acc) {
        int wide = m / NRL, panels = wide + (m - wide * NRL + L - 1) / L;
        float[] bp = packBuffer(n * (m + L));
        packSwapped(g, gOff, n, m, null, n, wide, panels, bp);
        // scratch row i - i0 = row i of Wᵀ·diag(ps)·gᵀ = column i of dx
        swappedBlocks(w, k, n, bp, wide, panels, m, dx, dxOff, m, acc, null);
    }

    // the calling thread's scratch for the swapped products, at least size floats; its contents are garbage
    private static float[] swappedScratch(int size) {
        float[][] holder = SWAPPED.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }

    @Override
    public void gtX(float[] g, int gOff, float[] x, int xOff, float[] dw, int dwOff, int m, int n, int k, boolean acc) {
        GemmChecks.gtX(g, gOff, x, xOff, dw, dwOff, m, n, k);
        gemm(n, k, m, g, gOff, 1, n, x, xOff, k, 1, null, dw, dwOff, k, acc, null, null);
    }

    @Override
    public void xWt(float[] x, int xOff, WeightMatrix w, float[] y, int yOff, int m, boolean acc, float[] colScale,
                    float[] colBias) {
        if (w instanceof F32Matrix f) {
            xWt(x, xOff, f.data(), f.offset(), y, yOff, m, f.cols(), f.rows(), acc, colScale, colBias);
            return;
        }
        int k = w.cols(), n = w.rows();
        GemmChecks.xWt(x, xOff, w, y, yOff, m);
        GemmChecks.vector("colScale", colScale, n);
        GemmChecks.vector("colBias", colBias, n);
        if (k > 0 && m <= REGISTER_DOT_M && w instanceof Bf16Matrix h && BF16.supported()) {
            short[] bits = h.bits();
            int blocks = (n + 63) / 64;
            run((long) m * n * k >= PARALLEL_MACS, blocks, (b0, b1) -> BF16.rows(x, xOff, bits, k, n, m, 64 * b0,
                    Math.min(n, 64 * b1), y, yOff, acc, colScale, colBias));
        } else if (k > 0 && m <= REGISTER_DOT_M && QUANT.supports(w)) {
            float[] pairs = w instanceof FourBitMatrix ? evenOdd(x, xOff, m, k) : null;
            int blocks = (n + 63) / 64;
            run((long) m * n * k >= PARALLEL_MACS, blocks, (b0, b1) -> QUANT.rows(x, xOff, pairs, w, m, 64 * b0,
                    Math.min(n, 64 * b1), y, yOff, acc, colScale, colBias));
        } else if (k > 0 && m <= WIDENED_DOT_M) {
            widenedDotProducts(x, xOff, w, m, y, yOff, acc, colScale, colBias);
        } else if (swaps(m, 0, k, n)) {
            xWtSwapped(x, xOff, rowsOf(w), y, yOff, m, k, n, acc, colScale, colBias, null);
        } else {
            gemm(m, n, k, x, xOff, k, 1, null, 0, 1, k, w, true, null, y, yOff, n, acc, colScale, colBias, null);
        }
    }

    @Override
    public void xWtShared(float[] x, int xOff, int m, float[] a, int aOff, int r, WeightMatrix w, float[] y, int yOff,
                          float[] ay, int ayOff) {
        int k = w.cols(), n = w.rows();
        GemmChecks.xWt(x, xOff, w, y, yOff, m);
        GemmChecks.xWt(a, aOff, w, ay, ayOff, r);
        if (k == 0 || r == 0) {
            GemmKernel.super.xWtShared(x, xOff, m, a, aOff, r, w, y, yOff, ay, ayOff);
        } else if (m > WIDENED_DOT_M && swaps(m, r, k, n)) {
            ASource rows = w instanceof F32Matrix f ? rowsOf(f.data(), f.offset(), k) : rowsOf(w);
            xWtSwapped(x, xOff, rows, y, yOff, m, k, n, false, null, null, new Rows(a, aOff, r, ay, ayOff));
        } else if (m > WIDENED_DOT_M) {
            packedProduct(x, xOff, m, w, y, yOff, new Rows(a, aOff, r, ay, ayOff));
        } else {
            // few rows of x take the dot-product paths, as x·Wᵀ alone does; A·Wᵀ still goes through packed panels, so
            // that its bits (DoRA's norm) do not depend on how many rows x has
            if (m > 0) xWt(x, xOff, w, y, yOff, m, false, null, null);
            packedProduct(a, aOff, r, w, ay, ayOff, null);
        }
    }

    // y = x·Wᵀ (x: [m, k]) through packed panels of W, with the rows of extra (or null) on the same panels
    private static void packedProduct(float[] x, int xOff, int m, WeightMatrix w, float[] y, int yOff, Rows extra) {
        int k = w.cols(), n = w.rows();
        if (w instanceof F32Matrix f) {
            gemm(m, n, k, x, xOff, k, 1, f.data(), f.offset(), 1, k, null, false, null, y, yOff, n, false, null, null, extra);
        } else {
            gemm(m, n, k, x, xOff, k, 1, null, 0, 1, k, w, true, null, y, yOff, n, false, null, null, extra);
        }
    }

    @Override
    public void gW(float[] g, int gOff, WeightMatrix w, float[] rowScale, float[] dx, int dxOff, int m, boolean acc) {
        if (w instanceof F32Matrix f) {
            gW(g, gOff, f.data(), f.offset(), rowScale, dx, dxOff, m, f.rows(), f.cols(), acc);
            return;
        }
        int n = w.rows(), k = w.cols();
        GemmChecks.gW(g, gOff, w, dx, dxOff, m);
        GemmChecks.vector("rowScale", rowScale, n);
        // a 4-bit W's columns widen more slowly than its rows (2 threads, 256 rows, W 2048 x 2048 to 8192 x 2048:
        // 222-264 GFLOP/s swapped, 255-269 packed; bf16 262-277 packed, 270-319 swapped; int8 280-295 and 286-318)
        if (gWSwaps(m, n, k) && !(w instanceof FourBitMatrix)) {
            gWSwapped(g, gOff, columnsOf(w, rowScale), dx, dxOff, m, n, k, acc);
        } else {
            gemm(m, k, n, g, gOff, n, 1, null, 0, k, 1, w, false, rowScale, dx, dxOff, k, acc, null, null, null);
        }
    }

    // C[M, N] = ((acc ? C : 0) + A[M, K]·diag(ps)·B[K, N]) ⊙ cs + cb with A(i, p) = a[aOff + i·aRs + p·aCs],
    // B(p, j) = b[bOff + p·bRs + j·bCs], C(i, j) = c[cOff + i·ldc + j]; ps (per depth), cs and cb (per column of C)
    // may each be null
    private static void gemm(int bigM, int bigN, int bigK, float[] a, int aOff, int aRs, int aCs,
                             float[] b, int bOff, int bRs, int bCs, float[] ps, float[] c, int cOff, int ldc,
                             boolean acc, float[] cs, float[] cb) {
        gemm(bigM, bigN, bigK, a, aOff, aRs, aCs, b, bOff, bRs, bCs, null, false, ps, c, cOff, ldc, acc, cs, cb, null);
    }

    /**
     * More rows of the left-hand matrix, in another array, multiplied by the same packed B as the main rows: A(i, p)
     * = a[aOff + i·aRs + p·aCs] and C(i, j) = c[cOff + i·ldc + j] for i < rows, with the main rows' strides. (Not
     * private, nor is {@link TileBody}: the per-species copies {@link Specialize} makes are other classes.)
     */
    record Rows(float[] a, int aOff, int rows, float[] c, int cOff) {}

    /**
     * Where the swapped products take their A (W's rows, or its columns) from: rows [i0, i0 + rows) and depth [p0, p0 +
     * kc) of A copied into the micro-kernel's A block, row i at (i - i0)·KC, widened from W's storage. (Not private:
     * see {@link Rows}.)
     */
    @FunctionalInterface
    interface ASource {
        void copy(int i0, int rows, int p0, int kc, float[] ab);
    }

    // A = the float W: [n, k] at wOff (x·Wᵀ's rows of W)
    private static ASource rowsOf(float[] w, int wOff, int k) {
        return (i0, rows, p0, kc, ab) -> copyA(w, wOff + i0 * k + p0, k, rows, kc, ab);
    }

    // A = W in any storage (x·Wᵀ's rows of W)
    private static ASource rowsOf(WeightMatrix w) {
        return (i0, rows, p0, kc, ab) -> {
            for (int i = 0; i < rows; i++) w.dequantizeRow(i0 + i, p0, kc, ab, i * KC);
        };
    }

    // A(i, p) = ps[p]·w[wOff + p·k + i] (ps may be null): g·diag(ps)·W's Wᵀ, for the float W
    private static ASource columnsOf(float[] w, int wOff, int k, float[] ps) {
        return (i0, rows, p0, kc, ab) -> {
            GemmPack.transposeCopy(w, wOff + p0 * k + i0, k, rows, kc, ab, 0, KC, Transpose16.NATIVE);
            scaleColumns(ab, rows, kc, ps, p0);
        };
    }

    // A(i, p) = ps[p]·W[p, i] (ps may be null), W in any storage: kc rows of W widened (and scaled) side by side, then
    // transposed
    private static ASource columnsOf(WeightMatrix w, float[] ps) {
        return (i0, rows, p0, kc, ab) -> {
            float[] t = WeightRows.scratch(kc * rows);
            for (int p = 0; p < kc; p++) {
                int row = p0 + p;
                w.dequantizeRow(row, i0, rows, ps == null ? 1f : ps[row], t, p * rows);
            }
            GemmPack.transposeCopy(t, 0, rows, rows, kc, ab, 0, KC, Transpose16.NATIVE);
        };
    }

    // column p < kc of the first rows rows of the A block times ps[psOff + p] (no-op when ps is null)
    private static void scaleColumns(float[] ab, int rows, int kc, float[] ps, int psOff) {
        if (ps == null) return;
        int bound = S.loopBound(kc);
        for (int i = 0; i < rows; i++) {
            int o = i * KC, p = 0;
            for (; p < bound; p += L) {
                FloatVector.fromArray(S, ps, psOff + p).mul(FloatVector.fromArray(S, ab, o + p)).intoArray(ab, o + p);
            }
            for (; p < kc; p++) ab[o + p] = ps[psOff + p] * ab[o + p];
        }
    }

    // as above, with B taken from the weight matrix bw instead of b when bw is not null: B(p, j) = W[j, p] when
    // transposed (x·Wᵀ), W[p, j] otherwise (g·W); the rows of extra (or null) are multiplied by each packed block too
    // (acc, cs and cb apply to the main rows only; extra's rows are overwritten)
    private static void gemm(int bigM, int bigN, int bigK, float[] a, int aOff, int aRs, int aCs,
                             float[] b, int bOff, int bRs, int bCs, WeightMatrix bw, boolean transposed, float[] ps,
                             float[] c, int cOff, int ldc, boolean acc, float[] cs, float[] cb, Rows extra) {
        if (bigM == 0 || bigN == 0) return;
        if (bigK == 0) {
            for (int i = 0; i < bigM; i++) {
                int ci = cOff + i * ldc;
                for (int j = 0; j < bigN; j++) {
                    float v = acc ? c[ci + j] : 0f;
                    if (cs != null) v *= cs[j];
                    if (cb != null) v += cb[j];
                    c[ci + j] = v;
                }
            }
            return;
        }
        int extraRows = extra == null ? 0 : extra.rows();
        boolean parallel = (long) (bigM + extraRows) * bigN * bigK >= PARALLEL_MACS && Parallel.threads() > 1;
        // few rows against a float B with contiguous rows, whole vectors of columns and no row scales: the micro-kernels
        // read B's rows where they are (copying B into panels would cost more than the products)
        boolean inPlace = bigM <= IN_PLACE_M && extra == null && bw == null && ps == null && bCs == 1 && bigN % L == 0;
        // a deep B (g·W of an output head: 151936 rows) is packed in blocks of whole KC blocks of depth (each block's
        // sums reach C in the order they would undivided), as many as keep all of C's columns within PACK_FLOATS (at
        // least one, at most DEEP_K rows), so that A is copied once; each thread packs the panels it multiplies (see
        // below)
        boolean deep = !inPlace && bigK > DEEP_K;
        int kb = deep ? Math.clamp(PACK_FLOATS / ((bigN + NRL - 1) / NRL * NRL) / KC * KC, KC, DEEP_K) : bigK;
        int nc = Math.max(NRL, PACK_FLOATS / kb / NRL * NRL);
        int mainTiles = (bigM + MR - 1) / MR, tiles = mainTiles + (extraRows + MR - 1) / MR;
        int bBase = inPlace ? bOff : 0, ldb = inPlace ? bRs : 0;
        for (int jc = 0; jc < bigN; jc += nc) {
            int j0 = jc, cols = Math.min(nc, bigN - jc);
            int wide = cols / NRL;
            int panels = wide + (cols - wide * NRL + L - 1) / L;
            for (int pb = 0; pb < bigK; pb += kb) {
                int from = pb, depth = Math.min(kb, bigK - pb);
                boolean later = pb > 0, last = pb + depth == bigK;
                boolean accMain = acc || later;
                float[] scale = last ? cs : null, bias = last ? cb : null;
                int aShift = pb * aCs, packed = depth * (cols + L);
                // row tiles [t0, t1): the main rows' first, then extra's
                TileBody rowsOf = (t0, t1, q0, q1, bp) -> {
                    if (t0 < mainTiles) {
                        block(t0 * MR, Math.min(bigM, Math.min(t1, mainTiles) * MR), q0, q1, wide, cols, depth, a,
                                aOff + aShift, aRs, aCs, bp, bBase, ldb, c, cOff, ldc, j0, accMain, scale, bias, null);
                    }
                    if (t1 > mainTiles) {
                        int e0 = Math.max(t0, mainTiles) - mainTiles, e1 = t1 - mainTiles;
                        block(e0 * MR, Math.min(extraRows, e1 * MR), q0, q1, wide, cols, depth, extra.a(),
                                extra.aOff() + aShift, aRs, aCs, bp, bBase, ldb, extra.c(), extra.cOff(), ldc, j0,
                                later, null, null, null);
                    }
                };
                if (inPlace && !parallel) {
                    rowsOf.run(0, tiles, 0, panels, b);
                } else if (inPlace && tiles < panels) {
                    Parallel.range(panels, 1, (q0, q1) -> rowsOf.run(0, tiles, q0, q1, b));
                } else if (inPlace) {
                    Parallel.range(tiles, 1, (t0, t1) -> rowsOf.run(t0, t1, 0, panels, b));
                } else if (!parallel) {
                    float[] bp = packBuffer(packed);
                    pack(b, bOff, bRs, bCs, bw, transposed, ps, from, depth, j0, cols, wide, 0, panels, bp);
                    rowsOf.run(0, tiles, 0, panels, bp);
                } else if (tiles < panels || deep && panels >= Parallel.threads()) {
                    // each thread packs its own panels and multiplies every row by them. A deep B splits this way
                    // too: shared between the threads, each thread reading the panels another packed, it ran at 150 or
                    // 195 GFLOP/s from one call to the next (2 threads, Zen 4, qwen05b's head: 256 rows, 151936 x 896)
                    float[] bp = packBuffer(packed);
                    Parallel.range(panels, 1, (q0, q1) -> {
                        pack(b, bOff, bRs, bCs, bw, transposed, ps, from, depth, j0, cols, wide, q0, q1, bp);
                        rowsOf.run(0, tiles, q0, q1, bp);
                    });
                } else if (packed <= PRIVATE_PACK_FLOATS && bw == null) {
                    // each thread copies the float block itself; a widened weight (bw) is widened once, in parallel,
                    // below
                    Parallel.range(tiles, 1, (t0, t1) -> {
                        float[] bp = packBuffer(packed);
                        pack(b, bOff, bRs, bCs, bw, transposed, ps, from, depth, j0, cols, wide, 0, panels, bp);
                        rowsOf.run(t0, t1, 0, panels, bp);
                    });
                } else {
                    float[] bp = packBuffer(packed);
                    packParallel(b, bOff, bRs, bCs, bw, transposed, ps, from, depth, j0, cols, wide, panels, bp);
                    Parallel.range(tiles, 1, (t0, t1) -> rowsOf.run(t0, t1, 0, panels, bp));
                }
            }
        }
    }

    /** Row tiles [t0, t1) times panels [q0, q1) of the packed block bp. */
    @FunctionalInterface
    interface TileBody {
        void run(int t0, int t1, int q0, int q1, float[] bp);
    }

    // panels [q0, q1) of the block of B's rows [from, from + depth) and columns [j0, j0 + cols), row p times ps[p]
    // when ps is not null (only g·W scales, and its B = W has contiguous rows, bCs = 1) -> bp (panel q at
    // column(q)·depth)
    private static void pack(float[] b, int bOff, int bRs, int bCs, WeightMatrix bw, boolean transposed, float[] ps,
                             int from, int depth, int j0, int cols, int wide, int q0, int q1, float[] bp) {
        for (int q = q0; q < q1; q++) {
            pack(b, bOff, bRs, bCs, bw, transposed, ps, from, depth, 0, depth, j0, cols, wide, q, bp);
        }
    }

    // rows [p0, p1) of panel q of that block -> bp
    private static void pack(float[] b, int bOff, int bRs, int bCs, WeightMatrix bw, boolean transposed, float[] ps,
                             int from, int depth, int p0, int p1, int j0, int cols, int wide, int q, float[] bp) {
        int col = column(q, wide), width = q < wide ? NRL : L;
        int n = Math.min(width, cols - col), d = col * depth + p0 * width, r0 = from + p0, r1 = from + p1;
        if (bw != null && transposed) {
            WeightPanels.transposed(bw, r0, r1, j0 + col, n, width, bp, d);
        } else if (bw != null) {
            WeightPanels.rows(bw, ps, r0, r1, j0 + col, n, width, bp, d);
        } else if (ps != null) {
            scaledRows(b, bOff + r0 * bRs + j0 + col, bRs, ps, r0, r1 - r0, n, width, bp, d);
        } else {
            GemmPack.panel(b, bOff + r0 * bRs, bRs, bCs, r1 - r0, j0 + col, n, width, bp, d);
        }
    }

    // the whole block by all threads
    private static void packParallel(float[] b, int bOff, int bRs, int bCs, WeightMatrix bw, boolean transposed,
                                     float[] ps, int from, int depth, int j0, int cols, int wide, int panels,
                                     float[] bp) {
        packPanels(panels, depth, (q, p0, p1) ->
                pack(b, bOff, bRs, bCs, bw, transposed, ps, from, depth, p0, p1, j0, cols, wide, q, bp));
    }

    /** Rows [p0, p1) of panel q of a block being packed. (Not private: see {@link Rows}.) */
    @FunctionalInterface
    interface PanelRows {
        void pack(int q, int p0, int p1);
    }

    // panels [0, panels) of a block of the given depth, packed by all threads: by panels when there are enough of them
    // to give every thread two, else by panels and ranges of depth
    private static void packPanels(int panels, int depth, PanelRows body) {
        int threads = Parallel.threads();
        int parts = panels >= 2 * threads ? 1 : Math.max(1, Math.min(depth / PACK_DEPTH, 2 * threads));
        Parallel.range(panels * parts, 1, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int q = u / parts, part = u % parts;
                body.pack(q, (int) ((long) depth * part / parts), (int) ((long) depth * (part + 1) / parts));
            }
        });
    }

    // rows p < depth of b (row p at src + p·ld, cols contiguous values) times ps[psOff + p] -> dst: [depth, width]
    // at dOff, each row zero-padded to width
    private static void scaledRows(float[] b, int src, int ld, float[] ps, int psOff, int depth, int cols, int width,
                                   float[] dst, int dOff) {
        int bound = S.loopBound(cols);
        for (int p = 0; p < depth; p++) {
            int s = src + p * ld, d = dOff + p * width;
            float f = ps[psOff + p];
            FloatVector fv = FloatVector.broadcast(S, f);
            int j = 0;
            for (; j < bound; j += L) FloatVector.fromArray(S, b, s + j).mul(fv).intoArray(dst, d + j);
            for (; j < cols; j++) dst[d + j] = f * b[s + j];
            if (cols < width) Arrays.fill(dst, d + cols, d + width, 0f);
        }
    }

    private static int column(int panel, int wide) {
        return panel < wide ? panel * NRL : wide * NRL + (panel - wide) * L;
    }

    // rows [i0, i1) of C times panels [q0, q1) of the packed column block bp (columns [j0, j0 + cols) of C, the
    // first wide panels NRL wide, the rest L wide), over the whole depth; the column scale cs and bias cb (or null)
    // are applied as the last depth block is stored; A's blocks come from source instead of a when it is not null
    private static void block(int i0, int i1, int q0, int q1, int wide, int cols, int depth,
                              float[] a, int aOff, int aRs, int aCs, float[] bp, int bBase, int ldb, float[] c,
                              int cOff, int ldc, int j0, boolean acc, float[] cs, float[] cb, ASource source) {
        float[] tile = TILE.get();
        // packed wide panels take A's block from a copy with contiguous rows (when A's rows are contiguous: a
        // transposing copy costs more than it saves at attention's shapes, the only transposed A with wide panels,
        // unless the caller asks for it)
        float[] ab = ldb == 0 && (source != null || aCs == 1 && q0 < wide) ? A_BLOCK.get() : null;
        for (int pc = 0; pc < depth; pc += KC) {
            int kc = Math.min(KC, depth - pc);
            boolean load = acc || pc > 0;
            boolean last = pc + kc == depth;
            float[] scale = last ? cs : null, bias = last ? cb : null;
            for (int ic = i0; ic < i1; ic += MC) {
                int iEnd = Math.min(ic + MC, i1);
                if (source != null) {
                    source.copy(ic, iEnd - ic, pc, kc, ab);
                } else if (ab != null) {
                    copyA(a, aOff + ic * aRs + pc, aRs, iEnd - ic, kc, ab);
                }
                if (ab != null) padRows(iEnd - ic, kc, ab);
                for (int q = q0; q < q1; q++) {
                    int col = column(q, wide);
                    int width = q < wide ? NRL : L;
                    int pcols = Math.min(width, cols - col);
                    // packed: panel q at column(q)·depth, rows width apart; in place: B's rows, ldb apart
                    int bi = ldb == 0 ? col * depth + pc * width : bBase + pc * ldb + j0 + col;
                    int bRs = ldb == 0 ? width : ldb;
                    int step = width == NRL ? MR : 2 * MR;
                    for (int ir = ic; ir < iEnd; ir += step) {
                        int rows = Math.min(step, iEnd - ir);
                        int ai = aOff + ir * aRs + pc * aCs;
                        int ci = cOff + ir * ldc + j0 + col;
                        if (width == NRL && ab != null) {
                            kernel6x4(ab, (ir - ic) * KC, bp, bi, kc, tile, c, ci, ldc, rows, pcols, load, scale, bias,
                                    j0 + col);
                        } else if (width == NRL) {
                            kernel6x4(a, ai, aRs, aCs, bp, bi, bRs, kc, tile, c, ci, ldc, rows, pcols, load, scale, bias,
                                    j0 + col);
                        } else if (source != null) {
                            kernel12x1(ab, (ir - ic) * KC, KC, 1, bp, bi, bRs, kc, tile, c, ci, ldc, rows, pcols, load,
                                    scale, bias, j0 + col);
                        } else {
                            kernel12x1(a, ai, aRs, aCs, bp, bi, bRs, kc, tile, c, ci, ldc, rows, pcols, load, scale, bias,
                                    j0 + col);
                        }
                    }
                }
            }
        }
    }

    // rows i < rows of A at src + i·ld, kc values each -> ab: row i at i·KC
    private static void copyA(float[] a, int src, int ld, int rows, int kc, float[] ab) {
        for (int i = 0; i < rows; i++) System.arraycopy(a, src + i * ld, ab, i * KC, kc);
    }

    // zero rows from rows up to a whole micro-tile (their sums are never stored)
    private static void padRows(int rows, int kc, float[] ab) {
        int padded = (rows + MR - 1) / MR * MR;
        for (int i = rows; i < padded; i++) Arrays.fill(ab, i * KC, i * KC + kc, 0f);
    }

    // a: the copied block, rows r < MR at aOff + r·KC; b: packed micro-panel [kc, NRL] at bOff -> c as the kernel
    // below (the same sums in the same order; constant strides let the compiler check each row's index once)
    private static void kernel6x4(float[] a, int aOff, float[] b, int bOff, int kc, float[] tile, float[] c, int cOff,
                                  int ldc, int rows, int cols, boolean load, float[] cs, float[] cb, int j) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z;
        FloatVector c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z;
        FloatVector c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z;
        FloatVector c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * NRL;
            int ai = aOff + p;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bi + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, b, bi + 3 * L);
            FloatVector av = FloatVector.broadcast(S, a[ai]);
            c00 = av.fma(b0, c00); c01 = av.fma(b1, c01); c02 = av.fma(b2, c02); c03 = av.fma(b3, c03);
            av = FloatVector.broadcast(S, a[ai + KC]);
            c10 = av.fma(b0, c10); c11 = av.fma(b1, c11); c12 = av.fma(b2, c12); c13 = av.fma(b3, c13);
            av = FloatVector.broadcast(S, a[ai + 2 * KC]);
            c20 = av.fma(b0, c20); c21 = av.fma(b1, c21); c22 = av.fma(b2, c22); c23 = av.fma(b3, c23);
            av = FloatVector.broadcast(S, a[ai + 3 * KC]);
            c30 = av.fma(b0, c30); c31 = av.fma(b1, c31); c32 = av.fma(b2, c32); c33 = av.fma(b3, c33);
            av = FloatVector.broadcast(S, a[ai + 4 * KC]);
            c40 = av.fma(b0, c40); c41 = av.fma(b1, c41); c42 = av.fma(b2, c42); c43 = av.fma(b3, c43);
            av = FloatVector.broadcast(S, a[ai + 5 * KC]);
            c50 = av.fma(b0, c50); c51 = av.fma(b1, c51); c52 = av.fma(b2, c52); c53 = av.fma(b3, c53);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L);
        c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, 4 * L); c11.intoArray(tile, 5 * L);
        c12.intoArray(tile, 6 * L); c13.intoArray(tile, 7 * L);
        c20.intoArray(tile, 8 * L); c21.intoArray(tile, 9 * L);
        c22.intoArray(tile, 10 * L); c23.intoArray(tile, 11 * L);
        c30.intoArray(tile, 12 * L); c31.intoArray(tile, 13 * L);
        c32.intoArray(tile, 14 * L); c33.intoArray(tile, 15 * L);
        c40.intoArray(tile, 16 * L); c41.intoArray(tile, 17 * L);
        c42.intoArray(tile, 18 * L); c43.intoArray(tile, 19 * L);
        c50.intoArray(tile, 20 * L); c51.intoArray(tile, 21 * L);
        c52.intoArray(tile, 22 * L); c53.intoArray(tile, 23 * L);
        flush(tile, NRL, c, cOff, ldc, rows, cols, load, cs, cb, j);
    }

    // a: A(r, p) at a[aOff + r·aRs + p·aCs] for r < rows (rows past the last are computed on its data, not stored)
    // b: micro-panel [kc, NRL] at bOff, row p at bOff + p·bRs (packed: bRs = NRL; read in place: B's row stride)
    // -> c: [rows, cols] at cOff, row stride ldc (load: add into c; then times cs[j..] and plus cb[j..] where not
    // null, j the tile's first column of C).
    // The sums leave through the scratch tile (MR·NRL floats): storing them straight into c, with the edge masks,
    // makes the method too large for the JIT to keep its vectors in registers.
    private static void kernel6x4(float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int bRs, int kc,
                                  float[] tile, float[] c, int cOff, int ldc, int rows, int cols,
                                  boolean load, float[] cs, float[] cb, int j) {
        int a1 = aOff + Math.min(1, rows - 1) * aRs;
        int a2 = aOff + Math.min(2, rows - 1) * aRs;
        int a3 = aOff + Math.min(3, rows - 1) * aRs;
        int a4 = aOff + Math.min(4, rows - 1) * aRs;
        int a5 = aOff + Math.min(5, rows - 1) * aRs;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z;
        FloatVector c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z;
        FloatVector c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z;
        FloatVector c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * bRs;
            int ai = p * aCs;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bi + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, b, bi + 3 * L);
            FloatVector av = FloatVector.broadcast(S, a[aOff + ai]);
            c00 = av.fma(b0, c00); c01 = av.fma(b1, c01); c02 = av.fma(b2, c02); c03 = av.fma(b3, c03);
            av = FloatVector.broadcast(S, a[a1 + ai]);
            c10 = av.fma(b0, c10); c11 = av.fma(b1, c11); c12 = av.fma(b2, c12); c13 = av.fma(b3, c13);
            av = FloatVector.broadcast(S, a[a2 + ai]);
            c20 = av.fma(b0, c20); c21 = av.fma(b1, c21); c22 = av.fma(b2, c22); c23 = av.fma(b3, c23);
            av = FloatVector.broadcast(S, a[a3 + ai]);
            c30 = av.fma(b0, c30); c31 = av.fma(b1, c31); c32 = av.fma(b2, c32); c33 = av.fma(b3, c33);
            av = FloatVector.broadcast(S, a[a4 + ai]);
            c40 = av.fma(b0, c40); c41 = av.fma(b1, c41); c42 = av.fma(b2, c42); c43 = av.fma(b3, c43);
            av = FloatVector.broadcast(S, a[a5 + ai]);
            c50 = av.fma(b0, c50); c51 = av.fma(b1, c51); c52 = av.fma(b2, c52); c53 = av.fma(b3, c53);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L);
        c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, 4 * L); c11.intoArray(tile, 5 * L);
        c12.intoArray(tile, 6 * L); c13.intoArray(tile, 7 * L);
        c20.intoArray(tile, 8 * L); c21.intoArray(tile, 9 * L);
        c22.intoArray(tile, 10 * L); c23.intoArray(tile, 11 * L);
        c30.intoArray(tile, 12 * L); c31.intoArray(tile, 13 * L);
        c32.intoArray(tile, 14 * L); c33.intoArray(tile, 15 * L);
        c40.intoArray(tile, 16 * L); c41.intoArray(tile, 17 * L);
        c42.intoArray(tile, 18 * L); c43.intoArray(tile, 19 * L);
        c50.intoArray(tile, 20 * L); c51.intoArray(tile, 21 * L);
        c52.intoArray(tile, 22 * L); c53.intoArray(tile, 23 * L);
        flush(tile, NRL, c, cOff, ldc, rows, cols, load, cs, cb, j);
    }

    // a: A(r, p) at a[aOff + r·aRs + p·aCs] for r < rows (rows past the last are computed on its data, not stored)
    // b: micro-panel [kc, L] at bOff, row p at bOff + p·bRs -> c: [rows, cols] at cOff, row stride ldc (load: add
    // into c; then times cs[j..] and plus cb[j..] where not null); tile: scratch
    private static void kernel12x1(float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int bRs, int kc,
                                  float[] tile, float[] c, int cOff, int ldc, int rows, int cols,
                                  boolean load, float[] cs, float[] cb, int j) {
        int a1 = aOff + Math.min(1, rows - 1) * aRs;
        int a2 = aOff + Math.min(2, rows - 1) * aRs;
        int a3 = aOff + Math.min(3, rows - 1) * aRs;
        int a4 = aOff + Math.min(4, rows - 1) * aRs;
        int a5 = aOff + Math.min(5, rows - 1) * aRs;
        int a6 = aOff + Math.min(6, rows - 1) * aRs;
        int a7 = aOff + Math.min(7, rows - 1) * aRs;
        int a8 = aOff + Math.min(8, rows - 1) * aRs;
        int a9 = aOff + Math.min(9, rows - 1) * aRs;
        int a10 = aOff + Math.min(10, rows - 1) * aRs;
        int a11 = aOff + Math.min(11, rows - 1) * aRs;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z;
        FloatVector c10 = z;
        FloatVector c20 = z;
        FloatVector c30 = z;
        FloatVector c40 = z;
        FloatVector c50 = z;
        FloatVector c60 = z;
        FloatVector c70 = z;
        FloatVector c80 = z;
        FloatVector c90 = z;
        FloatVector c100 = z;
        FloatVector c110 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * bRs;
            int ai = p * aCs;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector av = FloatVector.broadcast(S, a[aOff + ai]);
            c00 = av.fma(b0, c00);
            av = FloatVector.broadcast(S, a[a1 + ai]);
            c10 = av.fma(b0, c10);
            av = FloatVector.broadcast(S, a[a2 + ai]);
            c20 = av.fma(b0, c20);
            av = FloatVector.broadcast(S, a[a3 + ai]);
            c30 = av.fma(b0, c30);
            av = FloatVector.broadcast(S, a[a4 + ai]);
            c40 = av.fma(b0, c40);
            av = FloatVector.broadcast(S, a[a5 + ai]);
            c50 = av.fma(b0, c50);
            av = FloatVector.broadcast(S, a[a6 + ai]);
            c60 = av.fma(b0, c60);
            av = FloatVector.broadcast(S, a[a7 + ai]);
            c70 = av.fma(b0, c70);
            av = FloatVector.broadcast(S, a[a8 + ai]);
            c80 = av.fma(b0, c80);
            av = FloatVector.broadcast(S, a[a9 + ai]);
            c90 = av.fma(b0, c90);
            av = FloatVector.broadcast(S, a[a10 + ai]);
            c100 = av.fma(b0, c100);
            av = FloatVector.broadcast(S, a[a11 + ai]);
            c110 = av.fma(b0, c110);
        }
        c00.intoArray(tile, 0);
        c10.intoArray(tile, L);
        c20.intoArray(tile, 2 * L);
        c30.intoArray(tile, 3 * L);
        c40.intoArray(tile, 4 * L);
        c50.intoArray(tile, 5 * L);
        c60.intoArray(tile, 6 * L);
        c70.intoArray(tile, 7 * L);
        c80.intoArray(tile, 8 * L);
        c90.intoArray(tile, 9 * L);
        c100.intoArray(tile, 10 * L);
        c110.intoArray(tile, 11 * L);
        flush(tile, L, c, cOff, ldc, rows, cols, load, cs, cb, j);
    }

    // tile: [MR, width] -> c: its first rows × cols at cOff, row stride ldc (added into c when load), then each
    // column j + v times cs[j + v] and plus cb[j + v] where those are not null
    private static void flush(float[] tile, int width, float[] c, int cOff, int ldc, int rows, int cols,
                              boolean load, float[] cs, float[] cb, int j) {
        for (int r = 0; r < rows; r++) {
            int ti = r * width, ci = cOff + r * ldc;
            for (int v = 0; v < cols; v += L) {
                FloatVector tv = FloatVector.fromArray(S, tile, ti + v);
                if (cols - v >= L) {
                    if (load) tv = tv.add(FloatVector.fromArray(S, c, ci + v));
                    if (cs != null) tv = tv.mul(FloatVector.fromArray(S, cs, j + v));
                    if (cb != null) tv = tv.add(FloatVector.fromArray(S, cb, j + v));
                    tv.intoArray(c, ci + v);
                } else {
                    VectorMask<Float> mask = S.indexInRange(v, cols);
                    if (load) tv = tv.add(FloatVector.fromArray(S, c, ci + v, mask));
                    if (cs != null) tv = tv.mul(FloatVector.fromArray(S, cs, j + v, mask));
                    if (cb != null) tv = tv.add(FloatVector.fromArray(S, cb, j + v, mask));
                    tv.intoArray(c, ci + v, mask);
                }
            }
        }
    }

    // a: [m, depth] (row stride lda), b: [n, depth] (row stride ldb) -> c: [m, n] (row stride ldc),
    // c[i, j] (+)= <a_i, b_j>, in tiles of 4 × 4 dot products; threads split the longer side
    private static void dotProducts(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, int m, int n,
                                    int depth, float[] c, int cOff, int ldc, boolean acc, float[] cs, float[] cb) {
        int mt = (m + 3) / 4, nt = (n + 3) / 4;
        boolean parallel = (long) m * n * depth >= PARALLEL_MACS;
        boolean byRows = mt >= nt;
        run(parallel, byRows ? mt : nt, (t0, t1) -> {
            float[] tile = new float[16 * L];
            int i0 = byRows ? 4 * t0 : 0, i1 = byRows ? Math.min(m, 4 * t1) : m;
            int j0 = byRows ? 0 : 4 * t0, j1 = byRows ? n : Math.min(n, 4 * t1);
            // each block of four b rows is used against every row of a in the range before the next is read
            for (int j = j0; j < j1; j += 4) {
                for (int i = i0; i < i1; i += 4) {
                    dot4x4(a, aOff + i * lda, lda, b, bOff + j * ldb, ldb, depth, tile, c, cOff + i * ldc + j, ldc,
                            Math.min(4, i1 - i), Math.min(4, j1 - j), acc, cs, cb, j);
                }
            }
        });
    }

    // a: rows r < rows at aOff + r·lda, b: rows j < cols at bOff + j·ldb, both of length depth
    // -> c: [rows, cols] at cOff, row stride ldc, c[r, j] (+)= <a_r, b_j>, then times cs[j0 + j] and plus
    // cb[j0 + j] where those are not null; tile: scratch of 16·L floats
    private static void dot4x4(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, int depth, float[] tile,
                               float[] c, int cOff, int ldc, int rows, int cols, boolean acc, float[] cs, float[] cb,
                               int j0) {
        int a1 = aOff + Math.min(1, rows - 1) * lda, b1 = bOff + Math.min(1, cols - 1) * ldb;
        int a2 = aOff + Math.min(2, rows - 1) * lda, b2 = bOff + Math.min(2, cols - 1) * ldb;
        int a3 = aOff + Math.min(3, rows - 1) * lda, b3 = bOff + Math.min(3, cols - 1) * ldb;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z;
        FloatVector c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z;
        FloatVector c30 = z, c31 = z, c32 = z, c33 = z;
        int bound = S.loopBound(depth);
        for (int p = 0; p < bound; p += L) {
            FloatVector x0 = FloatVector.fromArray(S, a, aOff + p);
            FloatVector x1 = FloatVector.fromArray(S, a, a1 + p);
            FloatVector x2 = FloatVector.fromArray(S, a, a2 + p);
            FloatVector x3 = FloatVector.fromArray(S, a, a3 + p);
            FloatVector w0 = FloatVector.fromArray(S, b, bOff + p);
            FloatVector w1 = FloatVector.fromArray(S, b, b1 + p);
            FloatVector w2 = FloatVector.fromArray(S, b, b2 + p);
            FloatVector w3 = FloatVector.fromArray(S, b, b3 + p);
            c00 = x0.fma(w0, c00); c01 = x0.fma(w1, c01); c02 = x0.fma(w2, c02); c03 = x0.fma(w3, c03);
            c10 = x1.fma(w0, c10); c11 = x1.fma(w1, c11); c12 = x1.fma(w2, c12); c13 = x1.fma(w3, c13);
            c20 = x2.fma(w0, c20); c21 = x2.fma(w1, c21); c22 = x2.fma(w2, c22); c23 = x2.fma(w3, c23);
            c30 = x3.fma(w0, c30); c31 = x3.fma(w1, c31); c32 = x3.fma(w2, c32); c33 = x3.fma(w3, c33);
        }
        // the accumulators leave registers through the scratch (a call per vector would box them)
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, 4 * L); c11.intoArray(tile, 5 * L); c12.intoArray(tile, 6 * L); c13.intoArray(tile, 7 * L);
        c20.intoArray(tile, 8 * L); c21.intoArray(tile, 9 * L); c22.intoArray(tile, 10 * L); c23.intoArray(tile, 11 * L);
        c30.intoArray(tile, 12 * L); c31.intoArray(tile, 13 * L); c32.intoArray(tile, 14 * L); c33.intoArray(tile, 15 * L);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                float s = FastExp.sumLanes(tile, (4 * r + j) * L, L);
                int ar = aOff + r * lda, bj = bOff + j * ldb;
                for (int p = bound; p < depth; p++) s += a[ar + p] * b[bj + p];
                int ci = cOff + r * ldc + j;
                if (acc) s += c[ci];
                if (cs != null) s *= cs[j0 + j];
                if (cb != null) s += cb[j0 + j];
                c[ci] = s;
            }
        }
    }


    // x: [m, k] at xOff, w: [n, k] -> y: [m, n] at yOff (+)= x·Wᵀ, then ⊙ cs + cb; W widened a block of rows at a
    // time into the thread's scratch, each block then taken as 4 × 4 dot products
    private static void widenedDotProducts(float[] x, int xOff, WeightMatrix w, int m, float[] y, int yOff,
                                           boolean acc, float[] cs, float[] cb) {
        int n = w.rows(), k = w.cols();
        int block = Math.max(4, Math.min(64, (1 << 16) / k) / 4 * 4);
        int blocks = (n + block - 1) / block;
        run((long) m * n * k >= PARALLEL_MACS, blocks, (b0, b1) -> {
            float[] tile = new float[16 * L];
            float[] rows = WeightRows.scratch(block * k);
            for (int bi = b0; bi < b1; bi++) {
                int j0 = bi * block, count = Math.min(block, n - j0);
                for (int j = 0; j < count; j++) w.dequantizeRow(j0 + j, 0, k, rows, j * k);
                for (int i = 0; i < m; i += 4) {
                    for (int j = 0; j < count; j += 4) {
                        dot4x4(x, xOff + i * k, k, rows, j * k, k, k, tile, y, yOff + i * n + j0 + j, n,
                                Math.min(4, m - i), Math.min(4, count - j), acc, cs, cb, j0 + j);
                    }
                }
            }
        });
    }

    // x: [m, k] (k even) -> [m, 2, k/2]: each row's even-indexed values, then its odd-indexed ones
    private static float[] evenOdd(float[] x, int xOff, int m, int k) {
        float[] out = new float[m * k];
        int half = k / 2;
        for (int i = 0; i < m; i++) {
            for (int t = 0; t < half; t++) {
                out[i * k + t] = x[xOff + i * k + 2 * t];
                out[i * k + half + t] = x[xOff + i * k + 2 * t + 1];
            }
        }
        return out;
    }

    private static void run(boolean parallel, int n, Parallel.RangeBody body) {
        if (parallel) Parallel.range(n, 1, body);
        else body.run(0, n);
    }

    // a reusable buffer of the calling thread, at least size floats; its contents are garbage
    private static float[] packBuffer(int size) {
        float[][] holder = PACK.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }
}
