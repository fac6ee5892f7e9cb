package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    @Test
    void headerIsPaddedToEightBytesForEveryLength() throws IOException {
        for (int nameLength = 1; nameLength <= 16; nameLength++) {
            Path file = dir.resolve("pad" + nameLength + ".safetensors");
            new SafetensorsWriter().add("n".repeat(nameLength), new float[] {1}, new long[] {1}, DType.F32).write(file);
            byte[] bytes = Files.readAllBytes(file);
            long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertThat(headerLength % 8).isZero();
            assertThat(bytes.length).isEqualTo(8 + headerLength + 4);
            String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
            String json = header.stripTrailing();
            assertThat(json).startsWith("{").endsWith("}");
            assertThat(header.substring(json.length())).matches(" {0,7}");
        }
    }

    @Test
    void tensorsAreLaidOutInInsertionOrderWithMetadataFirst() throws IOException {
        Path file = dir.resolve("layout.safetensors");
        new SafetensorsWriter()
                .add("z", new float[] {1, 2}, new long[] {2}, DType.F32)
                .add("a", new float[] {3}, new long[] {1}, DType.BF16)
                .metadata(Map.of("format", "pt"))
                .write(file);
        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8).stripTrailing();
        assertThat(header).isEqualTo("{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]}}");
        ByteBuffer data = ByteBuffer.wrap(bytes, 8 + (int) headerLength, 10).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(data.getFloat()).isEqualTo(1f);
        assertThat(data.getFloat()).isEqualTo(2f);
        assertThat(data.getShort()).isEqualTo((short) 0x4040);
    }

    @Test
    void largeTensorSpansManyWriteChunks() {
        Path file = dir.resolve("large.safetensors");
        float[] values = new float[700_001];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.5f;
        }
        new SafetensorsWriter()
                .add("f32", values, new long[] {values.length}, DType.F32)
                .add("bf16", values, new long[] {values.length}, DType.BF16)
                .write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.readFloats("f32")).isEqualTo(values);
            float[] narrowed = st.readFloats("bf16");
            assertThat(narrowed[values.length - 1]).isEqualTo(HalfConv.bf16ToFloat(
                    HalfConv.floatToBf16(values[values.length - 1])));
            assertThat(narrowed[255]).isEqualTo(127.5f);
        }
    }

    @Test
    void rejectsDuplicateNames() {
        SafetensorsWriter writer = new SafetensorsWriter().add("w", new float[] {1}, new long[] {1}, DType.F32);
        assertThatThrownBy(() -> writer.add("w", new float[] {2}, new long[] {1}, DType.F16))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("tensor 'w' was already added");
        assertThatThrownBy(() -> writer.addRaw("w", "U8", new long[] {1}, MemorySegment.ofArray(new byte[1])))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("tensor 'w' was already added");
    }

    @Test
    void rejectsDataThatDoesNotFitTheShape() {
        assertThatThrownBy(() -> new SafetensorsWriter().add("w", new float[5], new long[] {2, 3}, DType.F32))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("tensor 'w': shape [2, 3] holds 6 elements but 5 values were given");
        assertThatThrownBy(() -> new SafetensorsWriter().add("w", new float[0], new long[] {-1}, DType.F32))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("tensor 'w': negative dimension in shape [-1]");
        assertThatThrownBy(() -> new SafetensorsWriter()
                .addRaw("ids", "I64", new long[] {2}, MemorySegment.ofArray(new byte[12])))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("tensor 'ids': 12 bytes given but dtype I64 and shape [2] need 16");
        assertThatThrownBy(() -> new SafetensorsWriter()
                .addRaw("q", "Q8_0", new long[] {2}, MemorySegment.ofArray(new byte[2])))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith("tensor 'q': unsupported dtype 'Q8_0'");
    }

    @Test
    void rejectsTheReservedMetadataName() {
        assertThatThrownBy(() -> new SafetensorsWriter().add("__metadata__", new float[] {1}, new long[] {1},
                DType.F32))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("tensor name '__metadata__' is reserved");
    }

    @Test
    void emptyWriterProducesAValidFile() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        new SafetensorsWriter().write(file);
        assertThat(Files.readAllBytes(file)).containsExactly(8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ',
                ' ', ' ');
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.tensors()).isEmpty();
        }
    }

    @Test
    void rewritingAnOpenFileInPlaceKeepsTheOpenMappingValid() {
        Path file = dir.resolve("adapter_model.safetensors");
        new SafetensorsWriter().add("w", new float[] {1, 2}, new long[] {2}, DType.BF16).write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            SafetensorsWriter writer = new SafetensorsWriter().metadata(Map.of("format", "pt"));
            for (TensorInfo tensor : st.tensors()) {
                writer.addRaw(tensor.name(), tensor.dtypeName(), tensor.shape(), st.data(tensor.name()));
            }
            writer.write(file);
            assertThat(st.readFloats("w")).containsExactly(1, 2);
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.metadata()).containsEntry("format", "pt");
            assertThat(st.readFloats("w")).containsExactly(1, 2);
        }
    }

    @Test
    void failedWriteLeavesThePreviousFileAndNoTemporary() throws IOException {
        Path file = dir.resolve("keep.safetensors");
        new SafetensorsWriter().add("w", new float[] {1, 2}, new long[] {2}, DType.F32).write(file);
        byte[] before = Files.readAllBytes(file);
        SafetensorsFile source = SafetensorsFile.open(file);
        SafetensorsWriter writer = new SafetensorsWriter()
                .add("big", new float[1000], new long[] {1000}, DType.F32)
                .addRaw("w", "F32", new long[] {2}, source.data("w"));
        source.close();
        assertThatThrownBy(() -> writer.write(file))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith(file + ": cannot write: ");
        assertThat(Files.readAllBytes(file)).isEqualTo(before);
        try (var listing = Files.list(dir)) {
            assertThat(listing).containsExactly(file);
        }
    }
}
