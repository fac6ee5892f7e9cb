package dev.dora4j.io;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.dora4j.DoraException;
import dev.dora4j.io.onnx.OnnxProtos.AttributeProto;
import dev.dora4j.io.onnx.OnnxProtos.GraphProto;
import dev.dora4j.io.onnx.OnnxProtos.ModelProto;
import dev.dora4j.io.onnx.OnnxProtos.NodeProto;
import dev.dora4j.io.onnx.OnnxProtos.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ONNX model file (protobuf {@code ModelProto}) and an index of its main graph: initializers by name,
 * the node that produces each value and the nodes that consume it. The file is memory-mapped and parsed
 * with aliasing, so tensor bytes ({@code raw_data}) stay views of the mapping rather than copies. Tensors
 * whose data lives in external files are refused.
 */
public final class OnnxFile {
    /** Protobuf messages are limited to 2 GB; larger models keep their weights as external data. */
    private static final long MAX_BYTES = Integer.MAX_VALUE;

    private final Path path;
    private final ModelProto model;
    private final Map<String, TensorProto> initializers;
    private final Map<String, NodeProto> producers = new HashMap<>();
    private final Map<String, List<NodeProto>> consumers = new HashMap<>();

    private OnnxFile(Path path, ModelProto model) {
        this.path = path;
        this.model = model;
        Map<String, TensorProto> byName = new LinkedHashMap<>();
        for (TensorProto t : model.getGraph().getInitializerList()) {
            if (byName.putIfAbsent(t.getName(), t) != null) {
                throw new DoraException(path + ": initializer '" + t.getName() + "' appears twice");
            }
        }
        this.initializers = Collections.unmodifiableMap(byName);
        for (NodeProto node : model.getGraph().getNodeList()) {
            for (String out : node.getOutputList()) {
                if (!out.isEmpty()) producers.put(out, node);
            }
            for (String in : node.getInputList()) {
                if (!in.isEmpty()) consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(node);
            }
        }
    }

    /** Reads and indexes {@code file}; a missing, truncated or non-ONNX file is a {@link DoraException} naming it. */
    public static OnnxFile read(Path file) {
        ModelProto model;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size == 0) {
                throw new DoraException(file + ": not an ONNX model: the file is empty");
            }
            if (size > MAX_BYTES) {
                throw new DoraException(file + ": " + size + " bytes is more than a protobuf ONNX file can hold (2 GB);"
                        + " models this large keep their weights as external data, which is not supported");
            }
            MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
            CodedInputStream in = CodedInputStream.newInstance(mapped);
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            model = ModelProto.parseFrom(in);
        } catch (NoSuchFileException e) {
            throw new DoraException(file + ": ONNX file does not exist", e);
        } catch (InvalidProtocolBufferException e) {
            throw new DoraException(file + ": not a readable ONNX model (truncated or not ONNX protobuf): "
                    + StrictJson.oneLine(String.valueOf(e.getMessage())), e);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (!model.hasGraph() || model.getIrVersion() <= 0 || model.getGraph().getNodeCount() == 0) {
            throw new DoraException(file + ": not an ONNX model (no IR version or no graph nodes)");
        }
        for (TensorProto t : model.getGraph().getInitializerList()) {
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
                String location = t.getExternalDataList().stream().filter(e -> e.getKey().equals("location"))
                        .map(e -> e.getValue()).findFirst().orElse("?");
                throw new DoraException(file + ": tensor '" + t.getName() + "' keeps its data in an external file ("
                        + location + "); ONNX models with external data are not supported");
            }
        }
        return new OnnxFile(file, model);
    }

    public Path path() {
        return path;
    }

    public ModelProto model() {
        return model;
    }

    public GraphProto graph() {
        return model.getGraph();
    }

    /** The graph's initializers by name, in file order. */
    public Map<String, TensorProto> initializers() {
        return initializers;
    }

    /** The node whose output is {@code value}, or null for graph inputs and initializers. */
    public NodeProto producer(String value) {
        return producers.get(value);
    }

    /** The nodes that take {@code value} as an input, in graph order. */
    public List<NodeProto> consumers(String value) {
        return consumers.getOrDefault(value, List.of());
    }

    /**
     * The constant tensor behind {@code value}: an initializer, or the tensor of the {@code Constant} node
     * that produces it (following {@code Identity} nodes); null when the value is computed.
     */
    public TensorProto constant(String value) {
        for (int hops = 0; hops < 16; hops++) {
            TensorProto init = initializers.get(value);
            if (init != null) return init;
            NodeProto node = producers.get(value);
            if (node == null) return null;
            switch (node.getOpType()) {
                case "Identity" -> value = node.getInput(0);
                case "Constant" -> {
                    return constantNodeValue(node, value);
                }
                default -> {
                    return null;
                }
            }
        }
        return null;
    }

    /** The elements of a FLOAT tensor, from {@code raw_data} (little-endian) or {@code float_data}. */
    public float[] floats(TensorProto t) {
        if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
            throw new DoraException(path + ": tensor '" + t.getName() + "' is " + dataTypeName(t) + ", expected FLOAT");
        }
        int n = elementCount(t);
        float[] values = new float[n];
        if (t.hasRawData()) {
            rawData(t, n, Float.BYTES).asFloatBuffer().get(values);
        } else {
            checkCount(t, t.getFloatDataCount(), n);
            for (int i = 0; i < n; i++) values[i] = t.getFloatData(i);
        }
        return values;
    }

    /** The elements of an INT64 or INT32 tensor, widened to long. */
    public long[] longs(TensorProto t) {
        int n = elementCount(t);
        long[] values = new long[n];
        if (t.getDataType() == TensorProto.DataType.INT64_VALUE) {
            if (t.hasRawData()) {
                rawData(t, n, Long.BYTES).asLongBuffer().get(values);
            } else {
                checkCount(t, t.getInt64DataCount(), n);
                for (int i = 0; i < n; i++) values[i] = t.getInt64Data(i);
            }
        } else if (t.getDataType() == TensorProto.DataType.INT32_VALUE) {
            if (t.hasRawData()) {
                var ints = rawData(t, n, Integer.BYTES).asIntBuffer();
                for (int i = 0; i < n; i++) values[i] = ints.get(i);
            } else {
                checkCount(t, t.getInt32DataCount(), n);
                for (int i = 0; i < n; i++) values[i] = t.getInt32Data(i);
            }
        } else {
            throw new DoraException(path + ": tensor '" + t.getName() + "' is " + dataTypeName(t)
                    + ", expected INT64 or INT32");
        }
        return values;
    }

    /** The number of elements of {@code t}'s shape (1 for a scalar). */
    public static long numel(TensorProto t) {
        long n = 1;
        for (long d : t.getDimsList()) n = d < 0 ? -1 : n * d;
        return n;
    }

    public static long[] dims(TensorProto t) {
        return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    }

    public static String dataTypeName(TensorProto t) {
        TensorProto.DataType type = TensorProto.DataType.forNumber(t.getDataType());
        return type == null ? "data type " + t.getDataType() : type.name();
    }

    private int elementCount(TensorProto t) {
        long n = numel(t);
        if (n < 0 || n > Integer.MAX_VALUE) {
            throw new DoraException(path + ": tensor '" + t.getName() + "' has an invalid shape "
                    + Arrays.toString(dims(t)));
        }
        return (int) n;
    }

    private ByteBuffer rawData(TensorProto t, int n, int elementBytes) {
        ByteString raw = t.getRawData();
        if (raw.size() != (long) n * elementBytes) {
            throw new DoraException(path + ": tensor '" + t.getName() + "' has " + raw.size() + " bytes of raw_data but "
                    + dataTypeName(t) + " " + Arrays.toString(dims(t)) + " needs " + (long) n * elementBytes);
        }
        return raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    private void checkCount(TensorProto t, int have, int need) {
        if (have != need) {
            throw new DoraException(path + ": tensor '" + t.getName() + "' holds " + have + " values but its shape "
                    + Arrays.toString(dims(t)) + " needs " + need);
        }
    }

    /**
     * A Constant node's value as a tensor (value, value_float, value_floats, value_int, value_ints), named as
     * its tensor is or else after the node's output.
     */
    private static TensorProto constantNodeValue(NodeProto node, String output) {
        for (AttributeProto a : node.getAttributeList()) {
            switch (a.getName()) {
                case "value" -> {
                    return a.getT().getName().isEmpty() ? a.getT().toBuilder().setName(output).build() : a.getT();
                }
                case "value_float" -> {
                    return TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .addFloatData(a.getF()).build();
                }
                case "value_floats" -> {
                    return TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .addDims(a.getFloatsCount()).addAllFloatData(a.getFloatsList()).build();
                }
                case "value_int" -> {
                    return TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.INT64_VALUE)
                            .addInt64Data(a.getI()).build();
                }
                case "value_ints" -> {
                    return TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.INT64_VALUE)
                            .addDims(a.getIntsCount()).addAllInt64Data(a.getIntsList()).build();
                }
                default -> {
                }
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return "OnnxFile[" + path + ", " + initializers.size() + " initializers, " + graph().getNodeCount() + " nodes]";
    }
}
