package dev.dora4j.io;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, memory-mapped read-only. Offsets are longs throughout, so files and tensors larger
 * than 2 GB work. Everything in the header is validated by {@link #open}; a file that opens is consistent.
 *
 * <p>Tensors of F32, F16 and BF16 can be read as floats; tensors of the format's other byte-sized types
 * (I64, I32, U8, BOOL, F64, ...) are listed and available as raw bytes through {@link #data}, so they can be
 * copied unchanged, but {@link #readFloats} refuses them. Gaps between tensors and bytes after the last one
 * are tolerated; overlapping tensors are not.
 *
 * <p>Segments returned by {@link #data} are valid until {@link #close}. Reading is safe from many threads.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final ValueLayout.OfLong LENGTH_PREFIX =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The largest element count a Java array reliably holds. */
    static final long MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;
    private static final int CONVERT_CHUNK = 1 << 16;

    private final Path path;
    private final String label;
    private final Arena arena;
    private final MemorySegment data;
    private final SafetensorsHeader header;
    private final Map<String, TensorInfo> byName;
    private volatile boolean closed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, SafetensorsHeader header) {
        this.path = path;
        this.label = path.toString();
        this.arena = arena;
        this.data = data;
        this.header = header;
        this.byName = new HashMap<>();
        for (TensorInfo tensor : header.tensors()) {
            byName.put(tensor.name(), tensor);
        }
    }

    /** Maps and validates {@code file}; throws {@link DoraException} naming the file and tensor at fault. */
    public static SafetensorsFile open(Path file) {
        String label = file.toString();
        Arena arena = Arena.ofShared();
        try {
            MemorySegment whole;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            }
            long fileSize = whole.byteSize();
            if (fileSize < Long.BYTES) {
                throw new DoraException(label + ": file is " + fileSize
                        + " bytes, too short for the 8-byte header length (is this a safetensors file?)");
            }
            long headerLength = whole.get(LENGTH_PREFIX, 0);
            String claimed = Long.toUnsignedString(headerLength);
            boolean plausibleLength = headerLength != 0
                    && Long.compareUnsigned(headerLength, SafetensorsHeader.MAX_HEADER_BYTES) <= 0
                    && headerLength <= fileSize - Long.BYTES;
            byte[] head = whole.asSlice(0, Long.BYTES).toArray(ValueLayout.JAVA_BYTE);
            if (!plausibleLength && PickleFormat.looksLikePickle(head)) {
                throw new DoraException(label + ": is a PyTorch pickle checkpoint, not safetensors; " + PickleFormat.ADVICE);
            }
            if (headerLength == 0) {
                throw new DoraException(label + ": header length is 0 (is this a safetensors file?)");
            }
            if (Long.compareUnsigned(headerLength, SafetensorsHeader.MAX_HEADER_BYTES) > 0) {
                throw new DoraException(label + ": header length " + claimed + " bytes exceeds the limit of "
                        + SafetensorsHeader.MAX_HEADER_BYTES + " bytes (is this a safetensors file?)");
            }
            if (headerLength > fileSize - Long.BYTES) {
                throw new DoraException(label + ": header length " + claimed + " bytes runs past the end of the file ("
                        + (fileSize - Long.BYTES) + " bytes follow the length; is this a safetensors file?)");
            }
            byte[] json = whole.asSlice(Long.BYTES, headerLength).toArray(ValueLayout.JAVA_BYTE);
            long dataStart = Long.BYTES + headerLength;
            SafetensorsHeader header = SafetensorsHeader.parse(label, json, fileSize - dataStart);
            return new SafetensorsFile(file, arena, whole.asSlice(dataStart), header);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new DoraException(label + ": file not found", e);
        } catch (IOException e) {
            arena.close();
            throw new DoraException(label + ": cannot read: " + e, e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** The {@code __metadata__} map (empty when the file has none). */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** All tensors, sorted by where their data begins. */
    public List<TensorInfo> tensors() {
        return header.tensors();
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo tensor = byName.get(name);
        if (tensor == null) {
            throw new DoraException(label + ": no tensor named '" + name + "'");
        }
        return tensor;
    }

    /** The tensor's bytes as stored (little-endian), a read-only slice of the mapping. */
    public MemorySegment data(String name) {
        TensorInfo tensor = info(name);
        checkOpen();
        return data.asSlice(tensor.begin(), tensor.byteSize());
    }

    /** The tensor's values as floats, widening F16 and BF16; refuses non-float dtypes. */
    public float[] readFloats(String name) {
        TensorInfo tensor = info(name);
        String where = label + ": tensor '" + name + "'";
        if (tensor.dtype() == null) {
            throw new DoraException(where + " has dtype " + tensor.dtypeName() + ", which cannot be read as floats");
        }
        long numel = tensor.numel();
        if (numel > MAX_ARRAY_LENGTH) {
            throw new DoraException(where + " has " + numel + " elements, more than a Java array holds ("
                    + MAX_ARRAY_LENGTH + "); read it through data() instead");
        }
        MemorySegment bytes = data(name);
        float[] values = new float[(int) numel];
        if (tensor.dtype() == DType.F32) {
            MemorySegment.copy(bytes, F32_LE, 0, values, 0, values.length);
        } else {
            widenHalves(bytes, tensor.dtype(), values);
        }
        return values;
    }

    private static void widenHalves(MemorySegment bytes, DType dtype, float[] values) {
        short[] chunk = new short[Math.min(values.length, CONVERT_CHUNK)];
        for (int start = 0; start < values.length; start += chunk.length) {
            int count = Math.min(chunk.length, values.length - start);
            MemorySegment.copy(bytes, U16_LE, (long) start * Short.BYTES, chunk, 0, count);
            if (dtype == DType.BF16) {
                for (int i = 0; i < count; i++) {
                    values[start + i] = HalfConv.bf16ToFloat(chunk[i]);
                }
            } else {
                for (int i = 0; i < count; i++) {
                    values[start + i] = HalfConv.f16ToFloat(chunk[i]);
                }
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new DoraException(label + ": file is closed");
        }
    }

    /** Unmaps the file; segments from {@link #data} become invalid. Closing twice is harmless. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + label + ", " + header.tensors().size() + " tensors]";
    }
}
