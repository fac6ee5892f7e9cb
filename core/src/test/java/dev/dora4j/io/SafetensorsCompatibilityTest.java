package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exact bytes the reference Python library writes for {@code save_file({"a": tensor([1.0, -2.0])}, path)},
 * built by hand from the format: u64 little-endian header length, compact JSON padded with spaces to a multiple
 * of 8, then little-endian data.
 */
class SafetensorsCompatibilityTest {
    private static final byte[] REFERENCE = concat(
            new byte[] {56, 0, 0, 0, 0, 0, 0, 0},
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ".getBytes(),
            new byte[] {0x00, 0x00, (byte) 0x80, 0x3F, 0x00, 0x00, 0x00, (byte) 0xC0});

    @TempDir
    Path dir;

    @Test
    void referenceBytesAreWellFormed() {
        assertThat(REFERENCE).hasSize(8 + 56 + 8);
    }

    @Test
    void readerReadsTheReferenceFile() throws IOException {
        Path file = dir.resolve("reference.safetensors");
        Files.write(file, REFERENCE);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.tensors()).containsExactly(
                    new TensorInfo("a", DType.F32, "F32", new long[] {2}, 0, 8));
            assertThat(st.metadata()).isEmpty();
            assertThat(st.readFloats("a")).containsExactly(1.0f, -2.0f);
        }
    }

    @Test
    void writerWritesTheReferenceBytes() throws IOException {
        Path file = dir.resolve("ours.safetensors");
        new SafetensorsWriter().add("a", new float[] {1.0f, -2.0f}, new long[] {2}, DType.F32).write(file);
        assertThat(Files.readAllBytes(file)).isEqualTo(REFERENCE);
    }

    private static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) {
            length += part.length;
        }
        byte[] joined = new byte[length];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, joined, at, part.length);
            at += part.length;
        }
        return joined;
    }
}
