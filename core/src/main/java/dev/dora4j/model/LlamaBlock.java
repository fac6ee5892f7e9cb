package dev.dora4j.model;

import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.RopeTable;
import dev.dora4j.autograd.Tape;
import dev.dora4j.autograd.TransformerOps;
import dev.dora4j.nn.Linear;
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

    /** h: [batch·seqLen, hidden] -> [batch·seqLen, hidden]. */
    Tensor forward(Tape tape, Tensor h, int batch, int seqLen, int[] positions, RopeTable rope) {
        LlamaConfig c = config;
        Tensor h0 = h;
        Tensor x = OpProfile.forward("rms_norm", () -> TransformerOps.rmsNorm(tape, h0, inputNorm, c.rmsNormEps()));
        Tensor qLin = qProj.profiledForward(tape, x), kLin = kProj.profiledForward(tape, x);
        Tensor v = vProj.profiledForward(tape, x);
        Tensor q = OpProfile.forward("rope", () -> TransformerOps.rope(tape, qLin, c.numAttentionHeads(), rope, positions));
        Tensor k = OpProfile.forward("rope", () -> TransformerOps.rope(tape, kLin, c.numKeyValueHeads(), rope, positions));
        Tensor a = OpProfile.forward("attention", () -> TransformerOps.causalAttention(tape, q, k, v, batch, seqLen,
                c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim()));
        Tensor o = oProj.profiledForward(tape, a);
        Tensor h1 = OpProfile.forward("add", () -> Ops.add(tape, h0, o));
        Tensor y = OpProfile.forward("rms_norm", () -> TransformerOps.rmsNorm(tape, h1, postAttentionNorm, c.rmsNormEps()));
        Tensor gate = gateProj.profiledForward(tape, y), up = upProj.profiledForward(tape, y);
        Tensor s = OpProfile.forward("swiglu", () -> TransformerOps.swiglu(tape, gate, up));
        Tensor m = downProj.profiledForward(tape, s);
        return OpProfile.forward("add", () -> Ops.add(tape, h1, m));
    }
}
