package dev.dora4j.model;

import dev.dora4j.autograd.EncoderOps;
import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.Tape;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.List;

/**
 * One post-LayerNorm encoder layer as transformers' {@code BertLayer}: bidirectional self-attention
 * ({@code attention.self.query/key/value}), {@code attention.output.dense} + residual + LayerNorm, then
 * {@code intermediate.dense} -> GELU -> {@code output.dense} + residual + LayerNorm. No dropout.
 */
public final class BertLayer {
    final Linear query, key, value, attentionOutput, intermediate, output;
    final Tensor attentionNormWeight, attentionNormBias, outputNormWeight, outputNormBias;
    private final BertConfig config;

    BertLayer(BertConfig config, Linear query, Linear key, Linear value, Linear attentionOutput,
              Tensor attentionNormWeight, Tensor attentionNormBias, Linear intermediate, Linear output,
              Tensor outputNormWeight, Tensor outputNormBias) {
        this.config = config;
        this.query = query;
        this.key = key;
        this.value = value;
        this.attentionOutput = attentionOutput;
        this.attentionNormWeight = attentionNormWeight;
        this.attentionNormBias = attentionNormBias;
        this.intermediate = intermediate;
        this.output = output;
        this.outputNormWeight = outputNormWeight;
        this.outputNormBias = outputNormBias;
    }

    /** query, key, value, attention.output.dense, intermediate.dense, output.dense. */
    public List<Linear> linears() {
        return List.of(query, key, value, attentionOutput, intermediate, output);
    }

    /** h: [T, hidden] -> [T, hidden], sequences as {@code offsets} marks them. */
    Tensor forward(Tape tape, Tensor h, int[] offsets) {
        BertConfig c = config;
        Tensor q = query.profiledForward(tape, h), k = key.profiledForward(tape, h);
        Tensor v = value.profiledForward(tape, h);
        Tensor a = OpProfile.forward("attention", () -> EncoderOps.bidirectionalAttention(tape, q, k, v, offsets,
                c.numAttentionHeads(), c.headDim()));
        Tensor o = attentionOutput.profiledForward(tape, a);
        Tensor r1 = OpProfile.forward("add", () -> Ops.add(tape, o, h));
        Tensor h1 = OpProfile.forward("layer_norm", () -> EncoderOps.layerNorm(tape, r1, attentionNormWeight,
                attentionNormBias, c.layerNormEps()));
        Tensor up = intermediate.profiledForward(tape, h1);
        Tensor g = OpProfile.forward("gelu", () -> EncoderOps.gelu(tape, up));
        Tensor down = output.profiledForward(tape, g);
        Tensor r2 = OpProfile.forward("add", () -> Ops.add(tape, down, h1));
        return OpProfile.forward("layer_norm", () -> EncoderOps.layerNorm(tape, r2, outputNormWeight, outputNormBias,
                c.layerNormEps()));
    }

    /** The positions of this layer's adapter dropout streams, for replaying them. */
    long[] dropoutPositions() {
        return dev.dora4j.nn.Dropout.positions(linears());
    }

    void rewindDropout(long[] positions) {
        dev.dora4j.nn.Dropout.rewind(linears(), positions);
    }
}
