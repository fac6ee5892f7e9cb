package dev.dora4j.kernel;

/**
 * The error function in double precision, after the rational approximations of the Cephes library (S. L. Moshier,
 * ndtr.c): {@code erf(x) = x·T(x²)/U(x²)} for |x| < 1, otherwise through {@code erfc(x) = exp(−x²)·P(x)/Q(x)}
 * (1 ≤ x < 8) or {@code exp(−x²)·R(x)/S(x)} (x ≥ 8). Relative error below 1e-15 in [−1, 1] and of order 1e-15
 * elsewhere. The exponential is {@link StrictMath#exp}, so results are the same bits on every JVM and in every JIT
 * state.
 */
public final class Erf {
    private static final double[] T = {
        9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
        7.00332514112805075473E3, 5.55923013010394962768E4};
    private static final double[] U = {
        3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
        2.26290000613890934246E4, 4.92673942608635921086E4};
    private static final double[] P = {
        2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
        4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
        9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2};
    private static final double[] Q = {
        1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
        9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
        1.65666309194161350182E3, 5.57535340817727675546E2};
    private static final double[] R = {
        5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
        6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0};
    private static final double[] S = {
        2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
        1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0};
    /** Beyond this |x|, exp(−x²) underflows and erfc is 0 (erf ±1). */
    private static final double MAX_ARG = 26.6;

    private Erf() {}

    /** erf(x); ±1 for large |x|, NaN for NaN. */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        if (Math.abs(x) < 1.0) {
            double z = x * x;
            return x * polynomial(z, T) / monicPolynomial(z, U);
        }
        return x > 0 ? 1.0 - erfc(x) : erfc(-x) - 1.0;
    }

    /** erfc(x) = 1 − erf(x), accurate in relative terms also where it is tiny (x up to about 26.5). */
    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        double a = Math.abs(x);
        if (a < 1.0) return 1.0 - erf(x);
        if (a > MAX_ARG) return x < 0 ? 2.0 : 0.0;
        double z = StrictMath.exp(-x * x);
        double p = a < 8.0 ? polynomial(a, P) : polynomial(a, R);
        double q = a < 8.0 ? monicPolynomial(a, Q) : monicPolynomial(a, S);
        double y = z * p / q;
        return x < 0 ? 2.0 - y : y;
    }

    // c[0]·x^n + c[1]·x^(n−1) + ... + c[n]
    private static double polynomial(double x, double[] c) {
        double r = c[0];
        for (int i = 1; i < c.length; i++) r = r * x + c[i];
        return r;
    }

    // x^n + c[0]·x^(n−1) + ... + c[n−1]
    private static double monicPolynomial(double x, double[] c) {
        double r = x + c[0];
        for (int i = 1; i < c.length; i++) r = r * x + c[i];
        return r;
    }
}
