package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.OnnxFile;
import dev.dora4j.io.onnx.OnnxProtos.AttributeProto;
import dev.dora4j.io.onnx.OnnxProtos.NodeProto;
import dev.dora4j.io.onnx.OnnxProtos.TensorProto;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the graph of a BERT export says beyond its named initializers: which module each anonymous dense
 * weight belongs to, the number of attention heads, the LayerNorm epsilon and the feed-forward activation.
 */
final class OnnxBertGraph {
    /**
     * A dense weight found as the constant operand of a MatMul or Gemm; {@code outIn} when it is stored as
     * PyTorch's {@code [out, in]} (Gemm with transB, or behind a Transpose), else as {@code [in, out]}.
     */
    record DenseWeight(String module, TensorProto weight, boolean outIn, String node) {
    }

    private final OnnxFile onnx;

    OnnxBertGraph(OnnxFile onnx) {
        this.onnx = onnx;
    }

    /**
     * Every MatMul/Gemm with a constant float matrix operand, keyed by module name (without {@code prefix}):
     * the module is named by the {@code <prefix><module>.bias} that the node's output is added to (Gemm: its C
     * input). Weights whose module cannot be found are described in {@code unmapped}.
     */
    Map<String, DenseWeight> denseWeights(String prefix, List<String> unmapped) {
        Map<String, DenseWeight> byModule = new LinkedHashMap<>();
        for (NodeProto node : onnx.graph().getNodeList()) {
            boolean gemm = node.getOpType().equals("Gemm");
            if (!gemm && !node.getOpType().equals("MatMul") || node.getInputCount() < 2) continue;
            String operand = node.getInput(1);
            boolean transposed = false;
            NodeProto producer = onnx.producer(operand);
            if (producer != null && producer.getOpType().equals("Transpose") && onnx.constant(operand) == null) {
                operand = producer.getInput(0);
                transposed = true;
            }
            TensorProto weight = onnx.constant(operand);
            if (weight == null || weight.getDataType() != TensorProto.DataType.FLOAT_VALUE || weight.getDimsCount() != 2) {
                continue;
            }
            boolean outIn = transposed ^ (gemm && intAttribute(node, "transB", 0) == 1);
            String bias = gemm ? (node.getInputCount() > 2 ? biasName(node.getInput(2)) : null) : addedBias(node);
            String where = weight.getName() + " (" + node.getOpType() + " node '" + node.getName() + "')";
            if (bias == null || !bias.startsWith(prefix)) {
                unmapped.add(where + ": no Add of a named <module>.bias follows it");
                continue;
            }
            String module = bias.substring(prefix.length(), bias.length() - ".bias".length());
            DenseWeight previous = byModule.put(module, new DenseWeight(module, weight, outIn, node.getName()));
            if (previous != null) {
                unmapped.add(where + ": module " + module + " already has weight " + previous.weight().getName());
            }
        }
        return byModule;
    }

    /** The name of the constant ending in {@code .bias} that is added to {@code node}'s output, or null. */
    private String addedBias(NodeProto node) {
        for (NodeProto add : onnx.consumers(node.getOutput(0))) {
            if (!add.getOpType().equals("Add") || add.getInputCount() != 2) continue;
            String other = add.getInput(0).equals(node.getOutput(0)) ? add.getInput(1) : add.getInput(0);
            String name = biasName(other);
            if (name != null) return name;
        }
        return null;
    }

    private String biasName(String value) {
        TensorProto t = onnx.constant(value);
        if (t == null) return null;
        if (t.getName().endsWith(".bias")) return t.getName();
        return value.endsWith(".bias") ? value : null;
    }

    /**
     * The number of attention heads: from the {@code [batch, seq, heads, head_dim]} Reshape shapes (whose last
     * two entries multiply to {@code hidden}), else from the attention scores' {@code sqrt(head_dim)} Div or
     * {@code 1/sqrt(head_dim)} Mul; the two must agree where both are present.
     */
    int attentionHeads(int hidden) {
        TreeSet<Long> fromReshape = new TreeSet<>();
        for (NodeProto node : onnx.graph().getNodeList()) {
            if (!node.getOpType().equals("Reshape") || node.getInputCount() < 2) continue;
            long[] shape = shapeValues(node.getInput(1));
            if (shape == null || shape.length != 4) continue;
            long heads = shape[2], headDim = shape[3];
            if (heads > 0 && headDim > 0 && heads * headDim == hidden) fromReshape.add(heads);
        }
        TreeSet<Long> fromScale = new TreeSet<>();
        for (NodeProto softmax : onnx.graph().getNodeList()) {
            if (softmax.getOpType().equals("Softmax")) scaleHeadDim(softmax.getInput(0), 4, fromScale);
        }
        TreeSet<Long> headsFromScale = new TreeSet<>();
        for (long headDim : fromScale) {
            if (headDim > 0 && hidden % headDim == 0) headsFromScale.add(hidden / headDim);
        }
        if (fromReshape.size() > 1 || headsFromScale.size() > 1
                || fromReshape.size() == 1 && headsFromScale.size() == 1 && !fromReshape.equals(headsFromScale)) {
            throw new DoraException(onnx.path() + ": the graph's attention shapes disagree on the number of heads"
                    + " (Reshape: " + fromReshape + ", score scale: " + headsFromScale + ")");
        }
        if (!fromReshape.isEmpty()) return Math.toIntExact(fromReshape.first());
        if (!headsFromScale.isEmpty()) return Math.toIntExact(headsFromScale.first());
        throw new DoraException(onnx.path() + ": cannot infer num_attention_heads: no [batch, seq, heads, head_dim]"
                + " Reshape and no sqrt(head_dim) scaling of the attention scores in the graph");
    }

    /** A Reshape's target shape with -1 for entries computed at run time (Concat of Unsqueezed values). */
    private long[] shapeValues(String value) {
        TensorProto constant = onnx.constant(value);
        if (constant != null) return isInteger(constant) ? onnx.longs(constant) : null;
        NodeProto concat = onnx.producer(value);
        if (concat == null || !concat.getOpType().equals("Concat")) return null;
        long[] shape = new long[concat.getInputCount()];
        for (int i = 0; i < shape.length; i++) {
            String part = concat.getInput(i);
            NodeProto unsqueeze = onnx.producer(part);
            if (onnx.constant(part) == null && unsqueeze != null && unsqueeze.getOpType().equals("Unsqueeze")) {
                part = unsqueeze.getInput(0);
            }
            TensorProto t = onnx.constant(part);
            long[] values = t != null && isInteger(t) ? onnx.longs(t) : null;
            if (values != null && values.length != 1) return null;
            shape[i] = values == null ? -1 : values[0];
        }
        return shape;
    }

    /** Looks up to {@code depth} nodes back from a Softmax for Div(MatMul, c) or Mul(MatMul, c). */
    private void scaleHeadDim(String value, int depth, TreeSet<Long> headDims) {
        NodeProto node = onnx.producer(value);
        if (node == null || depth == 0) return;
        boolean div = node.getOpType().equals("Div"), mul = node.getOpType().equals("Mul");
        if ((div || mul) && node.getInputCount() == 2) {
            NodeProto lhs = onnx.producer(node.getInput(0));
            Float c = scalar(node.getInput(1));
            if (lhs != null && lhs.getOpType().equals("MatMul") && c != null && c > 0) {
                double headDim = div ? (double) c * c : 1.0 / ((double) c * c);
                long rounded = Math.round(headDim);
                if (Math.abs(headDim - rounded) < 1e-3 * Math.max(1, rounded)) headDims.add(rounded);
                return;
            }
        }
        for (String input : node.getInputList()) {
            if (onnx.constant(input) == null) scaleHeadDim(input, depth - 1, headDims);
        }
    }

    /**
     * The LayerNorm epsilon: LayerNormalization's {@code epsilon} attribute (default 1e-5), or the constant
     * added to the variance before its Sqrt in the decomposed form
     * ({@code ReduceMean, Sub, Pow, ReduceMean, Add(eps), Sqrt, Div}); every LayerNorm must use the same.
     */
    double layerNormEps() {
        TreeSet<Float> found = new TreeSet<>();
        for (NodeProto node : onnx.graph().getNodeList()) {
            if (node.getOpType().equals("LayerNormalization")) {
                found.add(floatAttribute(node, "epsilon", 1e-5f));
            } else if (node.getOpType().equals("Sqrt")) {
                NodeProto add = onnx.producer(node.getInput(0));
                if (add == null || !add.getOpType().equals("Add") || add.getInputCount() != 2) continue;
                for (int i = 0; i < 2; i++) {
                    NodeProto variance = onnx.producer(add.getInput(i));
                    Float eps = scalar(add.getInput(1 - i));
                    if (variance != null && variance.getOpType().equals("ReduceMean") && eps != null) found.add(eps);
                }
            }
        }
        if (found.isEmpty()) {
            throw new DoraException(onnx.path() + ": cannot infer layer_norm_eps: no LayerNormalization node and no"
                    + " Add(ReduceMean(...), eps) before a Sqrt in the graph");
        }
        if (found.size() > 1) {
            throw new DoraException(onnx.path() + ": the LayerNorms use different epsilons " + found);
        }
        return Double.parseDouble(Float.toString(found.first()));
    }

    /**
     * {@code "gelu"} when every layer's feed-forward uses the exact (erf) GELU, as an Erf node or a Gelu
     * node without the tanh approximation; anything else is refused, naming what the graph has instead.
     */
    String activation(int layers) {
        Map<String, Integer> counts = new TreeMap<>();
        for (NodeProto node : onnx.graph().getNodeList()) {
            String op = node.getOpType();
            if (op.equals("Gelu")) {
                op = stringAttribute(node, "approximate", "none").equals("tanh") ? "Gelu(tanh)" : "Gelu";
            }
            counts.merge(op, 1, Integer::sum);
        }
        if (counts.getOrDefault("Erf", 0) + counts.getOrDefault("Gelu", 0) >= layers) return "gelu";
        List<String> others = new ArrayList<>();
        for (String op : List.of("Relu", "Tanh", "Sigmoid", "Gelu(tanh)", "FastGelu", "BiasGelu", "Erf", "Gelu")) {
            if (counts.containsKey(op)) others.add(op + " x" + counts.get(op));
        }
        throw new DoraException(onnx.path() + ": the feed-forward activation is not the exact GELU (hidden_act"
                + " \"gelu\", an Erf per layer) that this importer supports; the graph has "
                + (others.isEmpty() ? "no activation node it knows" : String.join(", ", others)));
    }

    private Float scalar(String value) {
        TensorProto t = onnx.constant(value);
        if (t == null || t.getDataType() != TensorProto.DataType.FLOAT_VALUE || OnnxFile.numel(t) != 1) return null;
        return onnx.floats(t)[0];
    }

    private static boolean isInteger(TensorProto t) {
        return t.getDataType() == TensorProto.DataType.INT64_VALUE || t.getDataType() == TensorProto.DataType.INT32_VALUE;
    }

    private static long intAttribute(NodeProto node, String name, long fallback) {
        for (AttributeProto a : node.getAttributeList()) if (a.getName().equals(name)) return a.getI();
        return fallback;
    }

    private static float floatAttribute(NodeProto node, String name, float fallback) {
        for (AttributeProto a : node.getAttributeList()) if (a.getName().equals(name)) return a.getF();
        return fallback;
    }

    private static String stringAttribute(NodeProto node, String name, String fallback) {
        for (AttributeProto a : node.getAttributeList()) if (a.getName().equals(name)) return a.getS().toStringUtf8();
        return fallback;
    }
}
