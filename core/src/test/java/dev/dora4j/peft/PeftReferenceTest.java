package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LoRA and DoRA layers against PyTorch references written by tools/gen_peft_fixtures.py
 * (PEFT's forward semantics re-implemented in torch, float64): outputs and the gradients of x,
 * A, B and the magnitude, to 1e-5 relative.
 */
class PeftReferenceTest {
    private static final double TOLERANCE = 1e-5;

    static Path fixtures() throws URISyntaxException {
        return Path.of(PeftReferenceTest.class.getResource("/fixtures/peft/cases.txt").toURI()).getParent();
    }

    static Stream<String> cases() throws IOException, URISyntaxException {
        List<String> names = Files.readAllLines(fixtures().resolve("cases.txt")).stream().filter(s -> !s.isBlank()).toList();
        assertThat(names).hasSizeGreaterThanOrEqualTo(20);
        return names.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void layerMatchesPyTorch(String name) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixtures().resolve(name))) {
            Map<String, String> meta = f.metadata();
            int r = Integer.parseInt(meta.get("r"));
            float alpha = Float.parseFloat(meta.get("lora_alpha"));
            boolean rslora = Boolean.parseBoolean(meta.get("use_rslora"));
            boolean dora = meta.get("method").equals("dora");
            float scaling = rslora ? (float) (alpha / Math.sqrt(r)) : alpha / r;
            assertThat((double) scaling).isCloseTo(Double.parseDouble(meta.get("scaling")), org.assertj.core.data.Offset.offset(1e-6));

            int out = (int) f.info("weight").shape()[0], in = (int) f.info("weight").shape()[1];
            int tokens = (int) f.info("x").shape()[0];
            Linear layer = new Linear("layer", Tensor.of(f.readFloats("weight"), out, in),
                    f.contains("bias") ? Tensor.of(f.readFloats("bias"), out) : null);
            Tensor a = Tensor.param(f.readFloats("lora_A"), r, in);
            Tensor b = Tensor.param(f.readFloats("lora_B"), out, r);
            Tensor m = dora ? Tensor.param(f.readFloats("magnitude"), out) : null;
            Dropout dropout = null;
            if (f.contains("dropout_mask")) {
                float[] mask = f.readFloats("dropout_mask");
                dropout = new Dropout(Float.parseFloat(meta.get("dropout")), 0);
                dropout.source(size -> mask);
            }
            LoraAdapter adapter = new LoraAdapter(a, b, m, scaling, dropout)
                    .exactNormGradient(meta.get("norm_grad").equals("exact"));
            layer.adapter(adapter);

            Tensor x = Tensor.param(f.readFloats("x"), tokens, in);
            Tape tape = Tape.training();
            Tensor y = layer.forward(tape, x);
            System.arraycopy(f.readFloats("grad_y"), 0, y.grad(), 0, y.numel());
            tape.backwardFromSeeded();

            Approx.assertClose(name + " y", y.data(), f.readFloats("y"), TOLERANCE);
            Approx.assertClose(name + " grad_x", x.grad(), f.readFloats("grad_x"), TOLERANCE);
            Approx.assertClose(name + " grad_lora_A", a.grad(), f.readFloats("grad_lora_A"), TOLERANCE);
            Approx.assertClose(name + " grad_lora_B", b.grad(), f.readFloats("grad_lora_B"), TOLERANCE);
            if (dora) Approx.assertClose(name + " grad_magnitude", m.grad(), f.readFloats("grad_magnitude"), TOLERANCE);
        }
    }
}
