package dev.dora4j.model;

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
        List<Linear> ls = linears();
        long[] pos = new long[ls.size()];
        for (int i = 0; i < pos.length; i++) {
            var a = ls.get(i).adapter();
            pos[i] = a == null || a.dropout() == null ? 0 : a.dropout().position();
        }
        return pos;
    }

    void rewindDropout(long[] positions) {
        List<Linear> ls = linears();
        for (int i = 0; i < positions.length; i++) {
            var a = ls.get(i).adapter();
            if (a != null && a.dropout() != null) a.dropout().rewind(positions[i]);
        }
    }

    /** h: [batch·seqLen, hidden] -> [batch·seqLen, hidden]. */
    Tensor forward(Tape tape, Tensor h, int batch, int seqLen, int[] positions, RopeTable rope) {
        LlamaConfig c = config;
        Tensor x = TransformerOps.rmsNorm(tape, h, inputNorm, c.rmsNormEps());
        Tensor q = TransformerOps.rope(tape, qProj.forward(tape, x), c.numAttentionHeads(), rope, positions);
        Tensor k = TransformerOps.rope(tape, kProj.forward(tape, x), c.numKeyValueHeads(), rope, positions);
        Tensor v = vProj.forward(tape, x);
        Tensor a = TransformerOps.causalAttention(tape, q, k, v, batch, seqLen, c.numAttentionHeads(),
                c.numKeyValueHeads(), c.headDim());
        h = Ops.add(tape, h, oProj.forward(tape, a));
        Tensor y = TransformerOps.rmsNorm(tape, h, postAttentionNorm, c.rmsNormEps());
        Tensor m = downProj.forward(tape, TransformerOps.swiglu(tape, gateProj.forward(tape, y), upProj.forward(tape, y)));
        return Ops.add(tape, h, m);
    }
}
