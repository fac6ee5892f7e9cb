package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LoRA and DoRA on embedding tables against PyTorch references written by tools/gen_embedding_fixtures.py (PEFT's
 * Embedding layer and DoraEmbeddingLayer re-implemented in torch, float64): outputs, the gradients of
 * lora_embedding_A, lora_embedding_B and the magnitude, and the merged table, to 1e-5 relative.
 */
class LoraEmbeddingReferenceTest {
    private static final double TOLERANCE = 1e-5;

    static Path fixtures() throws URISyntaxException {
        return Path.of(LoraEmbeddingReferenceTest.class.getResource("/fixtures/embedding/cases.txt").toURI()).getParent();
    }

    static Stream<String> cases() throws IOException, URISyntaxException {
        List<String> names = Files.readAllLines(fixtures().resolve("cases.txt")).stream().filter(s -> !s.isBlank()).toList();
        assertThat(names).hasSizeGreaterThanOrEqualTo(8);
        return names.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void embeddingLayerMatchesPyTorch(String name) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixtures().resolve(name))) {
            boolean dora = f.metadata().get("method").equals("dora");
            int vocab = (int) f.info("weight").shape()[0], hidden = (int) f.info("weight").shape()[1];
            int r = Integer.parseInt(f.metadata().get("r"));
            float scaling = (float) Double.parseDouble(f.metadata().get("scaling"));
            float[] w0 = f.readFloats("weight");
            Tensor table = Tensor.of(w0.clone(), vocab, hidden);
            Tensor a = Tensor.param(f.readFloats("lora_embedding_A"), r, vocab);
            Tensor b = Tensor.param(f.readFloats("lora_embedding_B"), hidden, r);
            Tensor m = dora ? Tensor.param(f.readFloats("magnitude"), hidden) : null;
            LoraEmbedding adapter = new LoraEmbedding(a, b, m, scaling);
            float[] idValues = f.readFloats("ids");
            int[] ids = new int[idValues.length];
            for (int i = 0; i < ids.length; i++) ids[i] = (int) idValues[i];

            Tape tape = Tape.training();
            Tensor y = adapter.forward(tape, table, ids);
            System.arraycopy(f.readFloats("grad_y"), 0, y.grad(), 0, y.numel());
            tape.backwardFromSeeded();
            Approx.assertClose(name + " y", y.data(), f.readFloats("y"), TOLERANCE);
            Approx.assertClose(name + " grad_A", a.grad(), f.readFloats("grad_lora_embedding_A"), TOLERANCE);
            Approx.assertClose(name + " grad_B", b.grad(), f.readFloats("grad_lora_embedding_B"), TOLERANCE);
            if (dora) Approx.assertClose(name + " grad_magnitude", m.grad(), f.readFloats("grad_magnitude"), TOLERANCE);

            adapter.merge(table);
            Approx.assertClose(name + " merged", table.toFloatArray(), f.readFloats("merged"), TOLERANCE);
            adapter.unmerge(table);
            Approx.assertClose(name + " unmerged", table.toFloatArray(), w0, TOLERANCE);
        }
    }
}
