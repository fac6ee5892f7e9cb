package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** erf and erfc against values of the C library's erf/erfc (as Python's math module prints them). */
class ErfTest {
    @ParameterizedTest(name = "erf({0})")
    @CsvSource({
        "0.5, 0.5204998778130465, 0.4795001221869535",
        "1, 0.8427007929497149, 0.15729920705028513",
        "2, 0.9953222650189527, 0.004677734981047265",
        "-3, -0.9999779095030014, 1.9999779095030015",
        "1e-10, 1.1283791670955126e-10, 0.999999999887162",
        "1e-300, 1.1283791670955126e-300, 1.0",
        "0.1, 0.1124629160182849, 0.8875370839817152",
        "0.99, 0.8385080695553698, 0.1614919304446302",
        "1.01, 0.8468104962282768, 0.1531895037717233",
        "-0.3, -0.3286267594591274, 1.3286267594591274",
        "3.7, 0.9999998328489421, 1.6715105790914596e-07",
        "5.5, 0.9999999999999927, 7.357847917974398e-15",
        "7.9, 1.0, 5.572718056952545e-29",
        "8.1, 1.0, 2.2163085720657543e-30",
        "10, 1.0, 2.088487583762545e-45",
        "26, 1.0, 5.663192408856143e-296",
    })
    void matchesReferenceValues(double x, double erf, double erfc) {
        assertThat(Erf.erf(x)).isCloseTo(erf, within(Math.abs(erf) * 1e-14 + 1e-300));
        assertThat(Erf.erfc(x)).isCloseTo(erfc, within(Math.abs(erfc) * 1e-12));
    }

    @Test
    void limitsAndSymmetry() {
        assertThat(Erf.erf(0.0)).isEqualTo(0.0);
        assertThat(Erf.erf(40)).isEqualTo(1.0);
        assertThat(Erf.erf(-40)).isEqualTo(-1.0);
        assertThat(Erf.erf(Double.POSITIVE_INFINITY)).isEqualTo(1.0);
        assertThat(Erf.erf(Double.NEGATIVE_INFINITY)).isEqualTo(-1.0);
        assertThat(Erf.erfc(40)).isEqualTo(0.0);
        assertThat(Erf.erfc(-40)).isEqualTo(2.0);
        assertThat(Erf.erf(Double.NaN)).isNaN();
        for (double x = -6; x <= 6; x += 0.0137) {
            assertThat(Erf.erf(-x)).isEqualTo(-Erf.erf(x));
            assertThat(Erf.erf(x) + Erf.erfc(x)).isCloseTo(1.0, within(2e-16 * 4));
        }
    }

    @Test
    void derivativeIsTheGaussian() {
        // d/dx erf = 2/sqrt(pi)·exp(−x²), by central differences across the branch points 1 and 8
        for (double x : new double[] {-2.5, -1, -0.999, 0, 0.7, 1, 1.001, 3, 7.999, 8}) {
            double h = 1e-5;
            double numeric = (Erf.erf(x + h) - Erf.erf(x - h)) / (2 * h);
            assertThat(numeric).isCloseTo(2 / Math.sqrt(Math.PI) * Math.exp(-x * x), within(1e-9));
        }
    }
}
