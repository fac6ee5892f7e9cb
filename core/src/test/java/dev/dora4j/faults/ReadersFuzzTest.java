package dev.dora4j.faults;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Jazzer fuzz tests of the readers (see {@link ReaderTargets}). Under a plain test run each replays the
 * committed corpus under {@code src/test/resources/fuzz/<target>/} (plus the empty input); with
 * {@code JAZZER_FUZZ=1} Jazzer fuzzes the first of them from that corpus for {@code maxDuration}.
 * {@link BoundedFuzzingTest} fuzzes all four for a bounded time on every build.
 */
class ReadersFuzzTest {
    /**
     * Jazzer's regular-expression-injection detector reports every pattern that fails to compile. PEFT's
     * format makes {@code target_modules} (as a string) and the pattern keys regular expressions, so
     * adapter_config.json compiles them by design and reports a broken one as bad input; the detector is
     * turned off. Every other detector stays on.
     */
    static final String REGEX_INJECTION = "com.code_intelligence.jazzer.sanitizers.RegexInjection";
    /** Replaying inputs needs no fuzzing guidance: its hooks are left out too, which halves Jazzer's start-up. */
    private static final String DISABLED_HOOKS = String.join(":", REGEX_INJECTION,
            "com.code_intelligence.jazzer.sanitizers.RegexRoadblocks",
            "com.code_intelligence.jazzer.runtime.TraceCmpHooks",
            "com.code_intelligence.jazzer.runtime.TraceDivHooks",
            "com.code_intelligence.jazzer.runtime.TraceIndirHooks");

    @BeforeAll
    static void configureJazzer() {
        System.setProperty("jazzer.disabled_hooks", DISABLED_HOOKS);
    }

    @MethodSource("safetensorsCorpus")
    @FuzzTest(maxDuration = "30s")
    void safetensors(byte[] input) {
        ReaderTargets.safetensors(input);
    }

    @MethodSource("adapterConfigCorpus")
    @FuzzTest(maxDuration = "30s")
    void adapterConfig(byte[] input) {
        ReaderTargets.adapterConfig(input);
    }

    @MethodSource("llamaConfigCorpus")
    @FuzzTest(maxDuration = "30s")
    void llamaConfig(byte[] input) {
        ReaderTargets.llamaConfig(input);
    }

    @MethodSource("datasetCorpus")
    @FuzzTest(maxDuration = "30s")
    void dataset(byte[] input) {
        ReaderTargets.dataset(input);
    }

    static Stream<Arguments> safetensorsCorpus() {
        return corpus(ReaderTargets.SAFETENSORS);
    }

    static Stream<Arguments> adapterConfigCorpus() {
        return corpus(ReaderTargets.ADAPTER_CONFIG);
    }

    static Stream<Arguments> llamaConfigCorpus() {
        return corpus(ReaderTargets.LLAMA_CONFIG);
    }

    static Stream<Arguments> datasetCorpus() {
        return corpus(ReaderTargets.DATASET);
    }

    /** Every file of the committed corpus of {@code target}, in name order, named by its file name. */
    static Stream<Arguments> corpus(String target) {
        return corpusFiles(target).stream().map(file -> {
            try {
                return Arguments.of(Named.of(file.getFileName().toString(), Files.readAllBytes(file)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static List<Path> corpusFiles(String target) {
        URL url = ReadersFuzzTest.class.getResource("/fuzz/" + target);
        if (url == null) {
            throw new IllegalStateException("the fuzz corpus fuzz/" + target + " is missing from the test resources");
        }
        try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
            return files.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
