package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed input is refused by {@link SafetensorsFile#open} with one line naming file and tensor. */
class SafetensorsMalformedTest {
    private static final String TENSOR = "model.layers.0.mlp.up_proj.weight";

    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve("model.safetensors");
    }

    private AbstractThrowableAssert<?, ? extends Throwable> assertOpenFails(byte[] content) throws IOException {
        Files.write(file(), content);
        return assertThatThrownBy(() -> SafetensorsFile.open(file()))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith(file() + ": ")
                .hasMessageNotContaining("\n");
    }

    private void assertRejected(String header, byte[] data, String expectedAfterFile) throws IOException {
        assertOpenFails(SafetensorsBytes.file(header, data)).hasMessage(file() + ": " + expectedAfterFile);
    }

    private void assertTensorRejected(String entry, int dataBytes, String expectedAfterTensor) throws IOException {
        assertRejected("{\"" + TENSOR + "\":" + entry + "}", new byte[dataBytes],
                "tensor '" + TENSOR + "': " + expectedAfterTensor);
    }

    private static byte[] prefixThen(long claimedHeaderLength, int bytesAfter) {
        return ByteBuffer.allocate(8 + bytesAfter).order(ByteOrder.LITTLE_ENDIAN).putLong(claimedHeaderLength).array();
    }

    @Test
    void missingFile() {
        assertThatThrownBy(() -> SafetensorsFile.open(file()))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(file() + ": file not found");
    }

    @Test
    void fileShorterThanTheLengthPrefix() throws IOException {
        assertOpenFails(new byte[5])
                .hasMessage(file() + ": file is 5 bytes, too short for the 8-byte header length"
                        + " (is this a safetensors file?)");
        assertOpenFails(new byte[0]).hasMessageContaining("file is 0 bytes");
    }

    @Test
    void headerLengthZero() throws IOException {
        assertOpenFails(prefixThen(0, 16))
                .hasMessage(file() + ": header length is 0 (is this a safetensors file?)");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        assertOpenFails(prefixThen(100, 10))
                .hasMessage(file() + ": header length 100 bytes runs past the end of the file"
                        + " (10 bytes follow the length; is this a safetensors file?)");
    }

    @Test
    void headerLengthOverTheLimit() throws IOException {
        assertOpenFails(prefixThen(200_000_000L, 10))
                .hasMessage(file() + ": header length 200000000 bytes exceeds the limit of 100000000 bytes"
                        + " (is this a safetensors file?)");
        assertOpenFails(prefixThen(-1L, 10))
                .hasMessage(file() + ": header length 18446744073709551615 bytes exceeds the limit of 100000000 bytes"
                        + " (is this a safetensors file?)");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] header = "{\"a\":\"xx\"}".getBytes(StandardCharsets.US_ASCII);
        header[6] = (byte) 0xFF;
        assertOpenFails(SafetensorsBytes.file(header, new byte[0]))
                .hasMessage(file() + ": header is not valid UTF-8 (bad byte sequence at header offset 6)");
    }

    @Test
    void headerNotJson() throws IOException {
        assertOpenFails(SafetensorsBytes.file("{\"a\":", new byte[0]))
                .hasMessage(file() + ": header is not valid JSON: Unexpected end-of-input within/between Object"
                        + " entries (line 1, column 6)");
    }

    @Test
    void headerWithTrailingContent() throws IOException {
        assertOpenFails(SafetensorsBytes.file("{} {}", new byte[0]))
                .hasMessage(file() + ": header is not valid JSON: unexpected content after the end of the JSON value"
                        + " (line 1, column 4)");
    }

    @Test
    void headerWithDuplicateKeys() throws IOException {
        String entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        assertOpenFails(SafetensorsBytes.file("{\"" + TENSOR + "\":" + entry + ",\"" + TENSOR + "\":" + entry + "}",
                new byte[4]))
                .hasMessageStartingWith(file() + ": header is not valid JSON: Duplicate field '" + TENSOR + "' (line 1,");
    }

    @Test
    void headerNotAnObject() throws IOException {
        assertRejected("[1, 2]", new byte[0], "header is not a JSON object (found array)");
        assertRejected("        ", new byte[0], "header is not a JSON object (found nothing)");
    }

    @Test
    void entryNotAnObject() throws IOException {
        assertTensorRejected("[0, 4]", 4, "entry must be an object (found array)");
    }

    @Test
    void dtypeMissingOrIllTyped() throws IOException {
        assertTensorRejected("{\"shape\":[1],\"data_offsets\":[0,4]}", 4, "missing 'dtype'");
        assertTensorRejected("{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}", 4,
                "'dtype' must be a string (found number)");
    }

    @Test
    void unsupportedDtypeIsNamed() throws IOException {
        assertTensorRejected("{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}", 4,
                "unsupported dtype 'Q4_K' (readable as floats: F32, F16, BF16; stored-only: F64, I64, U64, I32, U32,"
                        + " I16, U16, I8, U8, BOOL, F8_E4M3, F8_E5M2)");
    }

    @Test
    void shapeMissingOrIllTyped() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", 4, "missing 'shape'");
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}", 4,
                "'shape' must be an array of non-negative integers (found string)");
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}", 4,
                "'shape' must be an array of non-negative integers (found 1.5)");
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}", 4,
                "'shape' must be an array of non-negative integers (found null)");
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}", 4,
                "'shape' value 99999999999999999999 is out of range");
    }

    @Test
    void negativeDimension() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", 4,
                "'shape' has a negative value -1");
    }

    @Test
    void dataOffsetsMissingOrIllTyped() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[1]}", 4, "missing 'data_offsets'");
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}", 8,
                "'data_offsets' must be an array of 2 non-negative integers (found an array of 3)");
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"begin\":0}}", 4,
                "'data_offsets' must be an array of 2 non-negative integers (found object)");
    }

    @Test
    void negativeOffset() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}", 4,
                "'data_offsets' has a negative value -4");
    }

    @Test
    void endBeforeBegin() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}", 8,
                "data offsets [8, 4) end before they begin");
    }

    @Test
    void byteCountDoesNotMatchShapeAndDtype() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[4,8],\"data_offsets\":[0,96]}", 128,
                "data offsets [0, 96) do not match dtype F32 and shape [4, 8] (128 bytes)");
    }

    @Test
    void byteCountOverflow() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}", 4,
                "shape [4611686018427387904, 4] of dtype F32 overflows a 64-bit byte count");
    }

    @Test
    void dataPastEndOfFile() throws IOException {
        assertTensorRejected("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}", 12,
                "data offsets [0, 16) run past the end of the data (12 bytes after the header)");
    }

    @Test
    void overlappingTensors() throws IOException {
        assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"" + TENSOR + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                new byte[12], "tensors 'a' [0, 8) and '" + TENSOR + "' [4, 12) overlap");
    }

    @Test
    void metadataMustMapStringsToStrings() throws IOException {
        assertRejected("{\"__metadata__\":[\"pt\"]}", new byte[0],
                "'__metadata__' must be an object of string values (found array)");
        assertRejected("{\"__metadata__\":{\"format\":\"pt\",\"epochs\":3}}", new byte[0],
                "'__metadata__' key 'epochs' must have a string value (found number)");
    }

    @Test
    void wellFormedNeighboursOfTheMalformedCasesOpen() throws IOException {
        Files.write(file(), SafetensorsBytes.file(
                "{\"__metadata__\":{},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1},"
                        + "\"gap\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[10,11]},"
                        + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}   ",
                new byte[16]));
        try (SafetensorsFile st = SafetensorsFile.open(file())) {
            assertThat(st.tensors()).extracting(TensorInfo::name).containsExactly("a", "e", "gap");
        }
    }
}
