package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cTokenizerFileTest {
    @TempDir
    Path dir;

    /** Writes llama2.c tokenizer bytes: the header, then (score, length, bytes) per token. */
    private static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Writer int32(int value) {
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
            return this;
        }

        Writer float32(float value) {
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array());
            return this;
        }

        Writer token(float score, String text) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            float32(score).int32(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    private static Writer base() {
        Writer w = new Writer().int32(6).token(0, "<unk>").token(0, "\n<s>\n").token(0, "\n</s>\n");
        for (int b = 0; b < 256; b++) {
            w.token(0, String.format("<0x%02X>", b));
        }
        return w.token(-1, " ").token(-2, "a").token(-3, "b").token(-4, " a").token(-5, "ab").token(-6, " ab");
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    @Test
    void readsAWellFormedFileToItsEnd() throws IOException {
        Llama2cTokenizer tokenizer = Llama2cTokenizer.load(write("tokenizer.bin", base().bytes()));
        assertThat(tokenizer.vocabSize()).isEqualTo(265);
        assertThat(tokenizer.encode("ab", false, false)).containsExactly(264);
        assertThat(tokenizer.encode("ab b", false, false)).containsExactly(264, 259, 261);
        assertThat(tokenizer.encode("abc", false, false)).containsExactly(264, 'c' + 3);
        assertThat(tokenizer.decode(new int[] {1, 264, 259, 261})).isEqualTo("ab b");
    }

    @Test
    void truncatedHeader() throws IOException {
        Path file = write("short.bin", new byte[] {7, 0});
        assertThatThrownBy(() -> Llama2cTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("max_token_length");
    }

    @Test
    void maxTokenLengthLargerThanTheFile() throws IOException {
        Path file = write("lying.bin", new Writer().int32(1 << 30).token(0, "a").bytes());
        assertThatThrownBy(() -> Llama2cTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("max_token_length 1073741824");
    }

    @Test
    void fileEndingInsideAScoreNamesTheToken() throws IOException {
        byte[] whole = base().bytes();
        Path file = write("cut.bin", Arrays.copyOf(whole, whole.length - (8 + " ab".length()) + 3));
        assertThatThrownBy(() -> Llama2cTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("inside token 264")
                .hasMessageContaining("score and length");
    }

    @Test
    void fileEndingInsideTheTextNamesTheToken() throws IOException {
        byte[] whole = base().bytes();
        Path file = write("cut.bin", Arrays.copyOf(whole, whole.length - 1));
        assertThatThrownBy(() -> Llama2cTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("inside token 264")
                .hasMessageContaining("3 bytes of text");
    }

    @Test
    void negativeOrOversizedLengthNamesTheToken() throws IOException {
        Path negative = write("neg.bin", base().float32(0).int32(-5).bytes());
        assertThatThrownBy(() -> Llama2cTokenizer.load(negative))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(negative.toString())
                .hasMessageContaining("token 265 has length -5");
        Path huge = write("huge.bin", base().float32(0).int32(Integer.MAX_VALUE).bytes());
        assertThatThrownBy(() -> Llama2cTokenizer.load(huge))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("token 265 has length 2147483647");
        Path overMax = write("over.bin", base().token(0, "toolong").bytes());
        assertThatThrownBy(() -> Llama2cTokenizer.load(overMax))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("token 265 has length 7, outside 0..6");
    }

    @Test
    void declaredVocabSizeMustMatch() throws IOException {
        Path file = write("tokenizer.bin", base().bytes());
        assertThat(Llama2cTokenizer.load(file, 265).vocabSize()).isEqualTo(265);
        assertThatThrownBy(() -> Llama2cTokenizer.load(file, 266))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("inside token 265 of 266");
        assertThatThrownBy(() -> Llama2cTokenizer.load(file, Integer.MAX_VALUE))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("cannot hold 2147483647 tokens");
        assertThatThrownBy(() -> Llama2cTokenizer.load(file, 0))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("vocab size 0");
    }

    @Test
    void tooFewTokensOrNone() throws IOException {
        Path empty = write("empty.bin", new Writer().int32(4).bytes());
        assertThatThrownBy(() -> Llama2cTokenizer.load(empty))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("no tokens");
        Path two = write("two.bin", new Writer().int32(6).token(0, "<unk>").token(0, "<s>").bytes());
        assertThatThrownBy(() -> Llama2cTokenizer.load(two))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("2 tokens are too few");
    }

    @Test
    void missingByteTokenIsAnError() throws IOException {
        Path file = write("small.bin", new Writer().int32(6).token(0, "<unk>").token(0, "<s>").token(0, "</s>")
                .token(0, " ").token(0, "a").bytes());
        Llama2cTokenizer tokenizer = Llama2cTokenizer.load(file);
        assertThat(tokenizer.encode("a", false, false)).containsExactly(3, 4);
        assertThatThrownBy(() -> tokenizer.encode("z", false, false))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("byte 0x7a");
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.bin");
        assertThatThrownBy(() -> Llama2cTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString());
    }
}
