package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    private static final float[] VALUES = {1.0f, -2.5f, 0.15625f, 3.0e-3f, 1024.0f, -0.0f};

    @Test
    void f32RoundTripsExactly() {
        Path file = dir.resolve("f32.safetensors");
        new SafetensorsWriter().add("w", VALUES, new long[] {2, 3}, DType.F32).write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            TensorInfo info = st.info("w");
            assertThat(info.dtype()).isEqualTo(DType.F32);
            assertThat(info.dtypeName()).isEqualTo("F32");
            assertThat(info.shape()).containsExactly(2, 3);
            assertThat(info.intShape()).containsExactly(2, 3);
            assertThat(info.numel()).isEqualTo(6);
            assertThat(info.begin()).isZero();
            assertThat(info.end()).isEqualTo(24);
            assertThat(st.readFloats("w")).containsExactly(VALUES);
        }
    }

    @Test
    void f16AndBf16RoundTripThroughTheirRounding() {
        Path file = dir.resolve("half.safetensors");
        float[] values = {1.0f, -2.5f, 0.1f, 65504.0f, 1.00390625f};
        new SafetensorsWriter()
                .add("h", values, new long[] {5}, DType.F16)
                .add("b", values, new long[] {5}, DType.BF16)
                .write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.info("h").dtype()).isEqualTo(DType.F16);
            assertThat(st.info("b").dtype()).isEqualTo(DType.BF16);
            float[] halves = st.readFloats("h");
            float[] brains = st.readFloats("b");
            for (int i = 0; i < values.length; i++) {
                assertThat(halves[i]).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(values[i])));
                assertThat(brains[i]).isEqualTo(HalfConv.bf16ToFloat(HalfConv.floatToBf16(values[i])));
            }
            assertThat(brains[4]).as("1 + 2^-8 is a tie and rounds to even").isEqualTo(1.0f);
            assertThat(halves[4]).as("1 + 2^-8 is exact in f16").isEqualTo(1.00390625f);
            short stored = st.data("b").get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2);
            assertThat(stored).isEqualTo((short) 0xC020);
        }
    }

    @Test
    void emptyAndScalarTensors() {
        Path file = dir.resolve("shapes.safetensors");
        new SafetensorsWriter()
                .add("empty", new float[0], new long[] {0}, DType.F32)
                .add("scalar", new float[] {7.5f}, new long[] {}, DType.BF16)
                .add("emptyMatrix", new float[0], new long[] {3, 0}, DType.F16)
                .write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.info("empty").numel()).isZero();
            assertThat(st.readFloats("empty")).isEmpty();
            assertThat(st.info("scalar").shape()).isEmpty();
            assertThat(st.info("scalar").numel()).isEqualTo(1);
            assertThat(st.readFloats("scalar")).containsExactly(7.5f);
            assertThat(st.info("emptyMatrix").shape()).containsExactly(3, 0);
            assertThat(st.readFloats("emptyMatrix")).isEmpty();
            assertThat(st.data("empty").byteSize()).isZero();
        }
    }

    @Test
    void metadataRoundTripsInOrder() {
        Path file = dir.resolve("meta.safetensors");
        new SafetensorsWriter()
                .metadata(Map.of("format", "pt"))
                .add("x", new float[] {1}, new long[] {1}, DType.F32)
                .write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.metadata()).containsExactly(Map.entry("format", "pt"));
        }
        Path bare = dir.resolve("bare.safetensors");
        new SafetensorsWriter().add("x", new float[] {1}, new long[] {1}, DType.F32).write(bare);
        try (SafetensorsFile st = SafetensorsFile.open(bare)) {
            assertThat(st.metadata()).isEmpty();
        }
    }

    @Test
    void tensorsAreListedByOffsetAndLookupsWork() throws IOException {
        Path file = SafetensorsBytes.write(dir.resolve("order.safetensors"),
                "{\"late\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                        + "\"early\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                SafetensorsBytes.floatsLe(1.5f, 2.5f));
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.tensors()).extracting(TensorInfo::name).containsExactly("early", "late");
            assertThat(st.contains("late")).isTrue();
            assertThat(st.contains("missing")).isFalse();
            assertThat(st.readFloats("late")).containsExactly(2.5f);
            assertThat(st.path()).isEqualTo(file);
            assertThatThrownBy(() -> st.info("missing"))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage(file + ": no tensor named 'missing'");
        }
    }

    @Test
    void storedOnlyDtypesPassThroughRawButAreNotReadAsFloats() throws IOException {
        byte[] ids = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
        Path source = SafetensorsBytes.write(dir.resolve("ids.safetensors"),
                "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                        + "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[16,18]}}",
                concat(ids, new byte[] {1, 0}));
        Path copy = dir.resolve("copy.safetensors");
        try (SafetensorsFile st = SafetensorsFile.open(source)) {
            assertThat(st.info("ids").dtype()).isNull();
            assertThat(st.info("ids").dtypeName()).isEqualTo("I64");
            assertThatThrownBy(() -> st.readFloats("ids"))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage(source + ": tensor 'ids' has dtype I64, which cannot be read as floats");
            SafetensorsWriter writer = new SafetensorsWriter();
            for (TensorInfo tensor : st.tensors()) {
                writer.addRaw(tensor.name(), tensor.dtypeName(), tensor.shape(), st.data(tensor.name()));
            }
            writer.write(copy);
        }
        try (SafetensorsFile st = SafetensorsFile.open(copy)) {
            assertThat(st.data("ids").toArray(ValueLayout.JAVA_BYTE)).containsExactly(ids);
            assertThat(st.data("mask").toArray(ValueLayout.JAVA_BYTE)).containsExactly(1, 0);
            assertThat(st.info("mask").dtypeName()).isEqualTo("BOOL");
        }
    }

    @Test
    void closedFileRefusesData() {
        Path file = dir.resolve("closed.safetensors");
        new SafetensorsWriter().add("x", new float[] {1}, new long[] {1}, DType.F32).write(file);
        SafetensorsFile st = SafetensorsFile.open(file);
        MemorySegment before = st.data("x");
        st.close();
        st.close();
        assertThat(before.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> st.readFloats("x"))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(file + ": file is closed");
    }

    @Test
    void refusesToReadMoreElementsThanAnArrayHolds() throws IOException {
        long elements = 1L << 31;
        String header = "{\"huge\":{\"dtype\":\"BF16\",\"shape\":[" + elements + "],\"data_offsets\":[0,"
                + elements * 2 + "]}}";
        Path file = SafetensorsBytes.write(dir.resolve("huge.safetensors"), header, new byte[0]);
        try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(sparse.length() + elements * 2);
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.data("huge").byteSize()).isEqualTo(elements * 2);
            assertThat(st.info("huge").end()).isGreaterThan(Integer.MAX_VALUE);
            assertThatThrownBy(() -> st.readFloats("huge"))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage(file + ": tensor 'huge' has 2147483648 elements, more than a Java array holds"
                            + " (2147483639); read it through data() instead");
            assertThatThrownBy(() -> st.info("huge").intShape())
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage("tensor 'huge': dimension 2147483648 of shape [2147483648] does not fit in an int");
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = new byte[a.length + b.length];
        System.arraycopy(a, 0, joined, 0, a.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }
}
