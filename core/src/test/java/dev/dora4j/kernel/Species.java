package dev.dora4j.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.params.provider.Arguments;

/** The float vector species this CPU runs natively, narrowest first: the widths every kernel is tested at. */
final class Species {
    private Species() {}

    static List<VectorSpecies<Float>> all() {
        int max = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        return Stream.of(FloatVector.SPECIES_64, FloatVector.SPECIES_128, FloatVector.SPECIES_256,
                        FloatVector.SPECIES_512)
                .filter(s -> s.vectorBitSize() <= max)
                .toList();
    }

    /** Every species with 1 and with 2 threads: (species, threads) arguments for a parameterized test. */
    static Stream<Arguments> withThreads() {
        List<Arguments> out = new ArrayList<>();
        for (VectorSpecies<Float> s : all()) {
            for (int threads : new int[] {1, 2}) out.add(Arguments.of(s, threads));
        }
        return out.stream();
    }
}
