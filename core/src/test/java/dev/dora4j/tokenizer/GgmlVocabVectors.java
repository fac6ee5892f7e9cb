package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.testing.SharedData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * llama.cpp's tokenizer test vectors: {@code X.inp} holds the strings, each followed by a line
 * {@code __ggml_vocab_test__} (the newline before that line is a separator, not part of the string);
 * line i of {@code X.out} holds the expected ids of string i, space-separated, without BOS.
 */
record GgmlVocabVectors(List<String> inputs, List<int[]> expected) {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    static GgmlVocabVectors load(String vocabName) {
        Path inp = SharedData.file("tokenizers/ggml-vocab/" + vocabName + ".gguf.inp");
        Path out = SharedData.file("tokenizers/ggml-vocab/" + vocabName + ".gguf.out");
        try {
            String text = Files.readString(inp, StandardCharsets.UTF_8);
            assertThat(text).as(inp + " ends with the separator").endsWith(SEPARATOR);
            List<String> inputs = List.of(text.substring(0, text.length() - SEPARATOR.length())
                    .split(SEPARATOR, -1));
            List<int[]> expected = new ArrayList<>();
            for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
                String ids = line.strip();
                expected.add(ids.isEmpty()
                        ? new int[0]
                        : Arrays.stream(ids.split(" +")).mapToInt(Integer::parseInt).toArray());
            }
            assertThat(expected).as(out + " has one line per string of " + inp).hasSameSizeAs(inputs);
            return new GgmlVocabVectors(inputs, expected);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    int size() {
        return inputs.size();
    }
}
