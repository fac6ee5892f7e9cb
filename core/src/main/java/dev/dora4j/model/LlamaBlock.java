package dev.dora4j.model;

import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.RopeTable;
import dev.dora4j.autograd.Tape;
import dev.dora4j.autograd.TransformerOps;
import dev.dora4j.nn.Linear;
import dev.dora4j.nn.LinearForward;
import dev.dora4j.tensor.Tensor;
import java.util.List;

/** One decoder layer: pre-norm grouped-query self-attention and a SwiGLU MLP, each with a residual. */
public final class LlamaBlock {
    final Tensor inputNorm;
    final Tensor postAttentionNorm;
    final Linear qProj, kProj, vProj, oProj, gateProj, upProj, downProj;
    private final LlamaConfig config;

    LlamaBlock(LlamaConfig config, Tensor inputNorm, Tensor postAttentionNorm, Linear qProj, Linear kProj, Linear vProj,
            Linear oProj, Linear gateProj, Linear upProj, Linear downProj) {
        this.config = config;
        this.inputNorm = inputNorm;
        this.postAttentionNorm = postAttentionNorm;
        this.qProj = qProj;
        this.kProj = kProj;
        this.vProj = vProj;
        this.oProj = oProj;
        this.gateProj = gateProj;
        this.upProj = upProj;
        this.downProj = downProj;
    }

    public List<Linear> linears() {
        return List.of(qProj, kProj, vProj, oProj, gateProj, upProj, downProj);
    }

    public Tensor inputNorm() {
        return inputNorm;
    }

    public Tensor postAttentionNorm() {
        return postAttentionNorm;
    }

    /** The positions of this layer's dropout streams, for replaying them. */
    long[] dropoutPositions() {
        return dev.dora4j.nn.Dropout.positions(linears());
    }

    void rewindDropout(long[] positions) {
        dev.dora4j.nn.Dropout.rewind(linears(), positions);
    }

    /**
     * h: [rows, hidden] -> [rows, hidden], each row at {@code positions[row]}; {@code attention} relates the rows
     * (whole sequences of a batch, or new rows against KV caches) and {@code linears} runs the linear layers.
     */
    Tensor forward(Tape tape, Tensor h, int layer, int[] positions, RopeTable rope, SelfAttention attention,
            LinearForward linears) {
        LlamaConfig c = config;
        Tensor h0 = h;
        Tensor x = OpProfile.forward("rms_norm", () -> TransformerOps.rmsNorm(tape, h0, inputNorm, c.rmsNormEps()));
        Tensor qLin = linears.forward(tape, qProj, x), kLin = linears.forward(tape, kProj, x);
        Tensor v = linears.forward(tape, vProj, x);
        // the norms' and SwiGLU's outputs are computed again in backward rather than kept (when their ops allow)
        tape.release(x);
        // the projections' outputs are read only by the next op: rotated and summed in place where their layers allow
        Tensor q = OpProfile.forward("rope",
                () -> TransformerOps.ropeInPlace(tape, qLin, c.numAttentionHeads(), rope, positions));
        Tensor k = OpProfile.forward("rope",
                () -> TransformerOps.ropeInPlace(tape, kLin, c.numKeyValueHeads(), rope, positions));
        Tensor a = OpProfile.forward("attention", () -> attention.attend(tape, layer, q, k, v));
        Tensor o = linears.forward(tape, oProj, a);
        Tensor h1 = OpProfile.forward("add", () -> Ops.addInto(tape, o, h0));
        Tensor y = OpProfile.forward("rms_norm", () -> TransformerOps.rmsNorm(tape, h1, postAttentionNorm, c.rmsNormEps()));
        Tensor gate = linears.forward(tape, gateProj, y), up = linears.forward(tape, upProj, y);
        tape.release(y);
        Tensor s = OpProfile.forward("swiglu", () -> TransformerOps.swiglu(tape, gate, up));
        Tensor m = linears.forward(tape, downProj, s);
        tape.release(s);
        return OpProfile.forward("add", () -> Ops.addInto(tape, m, h1));
    }
}
