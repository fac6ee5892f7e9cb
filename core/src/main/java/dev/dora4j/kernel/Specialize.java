package dev.dora4j.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * One copy of a kernel class per vector species, each with its species in a {@code static final} field.
 *
 * <p>The Vector API compiles to SIMD instructions only when the species is a constant to the JIT; a species held in
 * an instance field or passed as an argument makes every vector operation fall back to slow Java code. So a kernel
 * class (the template) reads its species once, in its static initialiser, through {@link #species}, and this class
 * defines the template's bytes again as a hidden class whose class data is the wanted species. Each copy is then
 * compiled with its own constant species; the template itself, loaded the ordinary way, uses the preferred one.
 */
final class Specialize {
    private static final Map<String, Object> COPIES = new ConcurrentHashMap<>();

    private Specialize() {}

    /** The species of the calling template copy: its class data, or the preferred species for the template itself. */
    @SuppressWarnings("unchecked")
    static VectorSpecies<Float> species(MethodHandles.Lookup self) {
        try {
            VectorSpecies<Float> s = MethodHandles.classData(self, "_", VectorSpecies.class);
            return s != null ? s : FloatVector.SPECIES_PREFERRED;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("no access to class data of " + self.lookupClass(), e);
        }
    }

    /**
     * An instance (made by the no-argument constructor) of the copy of {@code template} for {@code species}; the
     * template must live in this package and implement {@code api}. Copies are made once and shared.
     */
    static <T> T copy(Class<? extends T> template, Class<T> api, VectorSpecies<Float> species) {
        if (species.elementType() != float.class) {
            throw new IllegalArgumentException("need a float species, got " + species);
        }
        String key = template.getName() + "@" + species.vectorBitSize();
        Object copy = COPIES.get(key);
        if (copy == null) {
            // defined outside the map's lock: a template's static initialiser may ask for copies of other templates
            Object made = define(template, species);
            copy = COPIES.putIfAbsent(key, made);
            if (copy == null) copy = made;
        }
        return api.cast(copy);
    }

    private static Object define(Class<?> template, VectorSpecies<Float> species) {
        if (species.equals(FloatVector.SPECIES_PREFERRED)) return instantiate(template);
        String resource = template.getSimpleName() + ".class";
        try (InputStream in = template.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("class file not found: " + resource);
            MethodHandles.Lookup lookup = MethodHandles.lookup()
                    .defineHiddenClassWithClassData(in.readAllBytes(), species, true);
            return lookup.findConstructor(lookup.lookupClass(), MethodType.methodType(void.class)).invoke();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + resource, e);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot specialise " + template.getName() + " for " + species, e);
        }
    }

    private static Object instantiate(Class<?> template) {
        try {
            return MethodHandles.lookup().findConstructor(template, MethodType.methodType(void.class)).invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot instantiate " + template.getName(), e);
        }
    }
}
