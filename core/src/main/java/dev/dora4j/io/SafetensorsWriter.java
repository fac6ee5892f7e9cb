package dev.dora4j.io;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Builds a safetensors file. Tensors are laid out in the order they are added; the header is compact JSON
 * padded with spaces to a multiple of 8 bytes, and the data is little-endian, as the reference
 * implementation writes it. The file appears atomically: a failed {@link #write} leaves any previous file
 * untouched.
 *
 * <p>The arrays and segments handed to {@code add} and {@code addRaw} are not copied; they are read when
 * {@link #write} runs and must stay unchanged (and, for mapped segments, open) until then.
 */
public final class SafetensorsWriter {
    private static final int CHUNK_BYTES = 1 << 20;

    private sealed interface Source permits FloatSource, RawSource {
    }

    private record FloatSource(float[] values, DType storeAs) implements Source {
    }

    private record RawSource(MemorySegment bytes) implements Source {
    }

    private record Entry(String name, String dtypeName, long[] shape, long byteSize, Source source) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private Map<String, String> metadata = Map.of();

    /**
     * Adds float values stored as {@code storeAs}; narrowing to F16 or BF16 rounds to nearest even, and
     * {@link #write} refuses a finite value that would overflow to infinity.
     */
    public SafetensorsWriter add(String name, float[] data, long[] shape, DType storeAs) {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(storeAs, "storeAs");
        long numel = checkedNumel(name, shape);
        if (numel != data.length) {
            throw new DoraException("tensor '" + name + "': shape " + Arrays.toString(shape) + " holds " + numel
                    + " elements but " + data.length + " values were given");
        }
        long byteSize = numel * storeAs.bytes();
        addEntry(new Entry(name, storeAs.name(), shape.clone(), byteSize, new FloatSource(data, storeAs)));
        return this;
    }

    /** Adds bytes exactly as given (little-endian, of the named safetensors dtype), e.g. from another file. */
    public SafetensorsWriter addRaw(String name, String dtypeName, long[] shape, MemorySegment bytes) {
        Objects.requireNonNull(bytes, "bytes");
        int elementBytes = SafetensorsDTypes.elementBytes(Objects.requireNonNull(dtypeName, "dtypeName"));
        if (elementBytes < 0) {
            throw new DoraException("tensor '" + name + "': unsupported dtype '" + dtypeName + "' ("
                    + SafetensorsDTypes.describeSupported() + ")");
        }
        long numel = checkedNumel(name, shape);
        long byteSize;
        try {
            byteSize = Math.multiplyExact(numel, elementBytes);
        } catch (ArithmeticException e) {
            throw new DoraException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " overflows a 64-bit byte count");
        }
        if (bytes.byteSize() != byteSize) {
            throw new DoraException("tensor '" + name + "': " + bytes.byteSize() + " bytes given but dtype "
                    + dtypeName + " and shape " + Arrays.toString(shape) + " need " + byteSize);
        }
        addEntry(new Entry(name, dtypeName, shape.clone(), byteSize, new RawSource(bytes)));
        return this;
    }

    /** Sets the {@code __metadata__} map (string to string); an empty map writes no metadata entry. */
    public SafetensorsWriter metadata(Map<String, String> metadata) {
        Map<String, String> copy = new LinkedHashMap<>();
        metadata.forEach((key, value) -> {
            if (key == null || value == null) {
                throw new DoraException("'" + SafetensorsHeader.METADATA_KEY + "' keys and values must not be null"
                        + " (key " + key + ")");
            }
            copy.put(key, value);
        });
        this.metadata = copy;
        return this;
    }

    /** Writes the file atomically (temporary file beside {@code target}, flushed, then renamed into place). */
    public void write(Path target) {
        List<TensorInfo> layout = new ArrayList<>(entries.size());
        long offset = 0;
        for (Entry entry : entries) {
            DType dtype = DType.fromSafetensors(entry.dtypeName());
            layout.add(new TensorInfo(entry.name(), dtype, entry.dtypeName(), entry.shape(), offset,
                    offset + entry.byteSize()));
            offset += entry.byteSize();
        }
        byte[] header = SafetensorsHeader.encode(metadata, layout);
        AtomicFiles.write(target, tmp -> {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer prefix = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                prefix.putLong(header.length).flip();
                writeFully(channel, prefix);
                writeFully(channel, ByteBuffer.wrap(header));
                ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (Entry entry : entries) {
                    switch (entry.source()) {
                        case FloatSource floats ->
                                writeFloats(channel, chunk, floats, target + ": tensor '" + entry.name() + "'");
                        case RawSource raw -> writeRaw(channel, raw.bytes());
                    }
                }
            }
        });
    }

    private void addEntry(Entry entry) {
        Objects.requireNonNull(entry.name(), "name");
        if (entry.name().equals(SafetensorsHeader.METADATA_KEY)) {
            throw new DoraException("tensor name '" + SafetensorsHeader.METADATA_KEY + "' is reserved");
        }
        if (!names.add(entry.name())) {
            throw new DoraException("tensor '" + entry.name() + "' was already added");
        }
        entries.add(entry);
    }

    private static long checkedNumel(String name, long[] shape) {
        Objects.requireNonNull(shape, "shape");
        long numel = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new DoraException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            }
            try {
                numel = Math.multiplyExact(numel, dim);
            } catch (ArithmeticException e) {
                throw new DoraException("tensor '" + name + "': shape " + Arrays.toString(shape)
                        + " overflows a 64-bit element count");
            }
        }
        return numel;
    }

    /** Narrows as it writes; a finite value that F16 or BF16 cannot hold is an error naming {@code where}. */
    private static void writeFloats(FileChannel channel, ByteBuffer chunk, FloatSource source, String where)
            throws IOException {
        float[] values = source.values();
        int perChunk = CHUNK_BYTES / source.storeAs().bytes();
        for (int start = 0; start < values.length; start += perChunk) {
            int end = Math.min(values.length, start + perChunk);
            chunk.clear();
            switch (source.storeAs()) {
                case F32 -> chunk.asFloatBuffer().put(values, start, end - start);
                case F16 -> {
                    for (int i = start; i < end; i++) {
                        short half = HalfConv.floatToF16(values[i]);
                        checkRepresentable(values[i], Float.isFinite(HalfConv.f16ToFloat(half)), i, "F16", where);
                        chunk.putShort((i - start) * Short.BYTES, half);
                    }
                }
                case BF16 -> {
                    for (int i = start; i < end; i++) {
                        short half = HalfConv.floatToBf16(values[i]);
                        checkRepresentable(values[i], Float.isFinite(HalfConv.bf16ToFloat(half)), i, "BF16", where);
                        chunk.putShort((i - start) * Short.BYTES, half);
                    }
                }
            }
            chunk.limit((end - start) * source.storeAs().bytes());
            writeFully(channel, chunk);
        }
    }

    private static void checkRepresentable(float value, boolean narrowedFinite, int index, String dtype, String where) {
        if (!narrowedFinite && Float.isFinite(value)) {
            throw new DoraException(where + ": value " + value + " at index " + index + " is out of the range of "
                    + dtype + " and would become infinite");
        }
    }

    private static void writeRaw(FileChannel channel, MemorySegment bytes) throws IOException {
        for (long start = 0; start < bytes.byteSize(); start += CHUNK_BYTES) {
            long length = Math.min(CHUNK_BYTES, bytes.byteSize() - start);
            writeFully(channel, bytes.asSlice(start, length).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
