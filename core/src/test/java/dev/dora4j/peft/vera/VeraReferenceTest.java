package dev.dora4j.peft.vera;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * VeRA and DVoRA layers against PyTorch references written by tools/gen_vera_fixtures.py (PEFT's VeRA layer and
 * DoRA over VeRA's update, re-implemented in torch, float64): outputs, the gradients of x, λ_b, λ_d and the
 * magnitude, and the merged weight, to 1e-5 relative; and an adapter directory in PEFT's layout.
 */
class VeraReferenceTest {
    private static final double TOLERANCE = 1e-5;

    static Path fixtures() throws URISyntaxException {
        return Path.of(VeraReferenceTest.class.getResource("/fixtures/vera/cases.txt").toURI()).getParent();
    }

    static Stream<String> cases() throws IOException, URISyntaxException {
        List<String> names = Files.readAllLines(fixtures().resolve("cases.txt")).stream().filter(s -> !s.isBlank()).toList();
        assertThat(names).hasSizeGreaterThanOrEqualTo(13);
        return names.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void layerMatchesPyTorch(String name) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixtures().resolve(name))) {
            VeraMethod method = f.metadata().get("method").equals("dvora") ? VeraMethod.DVORA : VeraMethod.VERA;
            int out = (int) f.info("weight").shape()[0], in = (int) f.info("weight").shape()[1];
            int tokens = (int) f.info("x").shape()[0], r = Integer.parseInt(f.metadata().get("r"));
            float[] w0 = f.readFloats("weight");
            Linear layer = new Linear("layer", Tensor.of(w0.clone(), out, in), f.contains("bias") ? Tensor.of(f.readFloats("bias"), out) : null);
            VeraProjections projections = new VeraProjections(Tensor.of(f.readFloats("vera_A"), f.info("vera_A").intShape()),
                    Tensor.of(f.readFloats("vera_B"), f.info("vera_B").intShape()));
            Tensor lambdaB = Tensor.param(f.readFloats("lambda_b"), out), lambdaD = Tensor.param(f.readFloats("lambda_d"), r);
            Tensor m = method.useDora() ? Tensor.param(f.readFloats("magnitude"), out) : null;
            Dropout dropout = null;
            if (f.contains("dropout_mask")) {
                float[] mask = f.readFloats("dropout_mask");
                dropout = new Dropout(Float.parseFloat(f.metadata().get("dropout")), 0);
                dropout.source(size -> mask);
            }
            VeraAdapter adapter = new VeraAdapter(method, "layer", projections, lambdaB, lambdaD, m, in, dropout);
            layer.adapter(adapter);

            Tensor x = Tensor.param(f.readFloats("x"), tokens, in);
            Tape tape = Tape.training();
            Tensor y = layer.forward(tape, x);
            System.arraycopy(f.readFloats("grad_y"), 0, y.grad(), 0, y.numel());
            tape.backwardFromSeeded();

            Approx.assertClose(name + " y", y.data(), f.readFloats("y"), TOLERANCE);
            Approx.assertClose(name + " grad_x", x.grad(), f.readFloats("grad_x"), TOLERANCE);
            Approx.assertClose(name + " grad_lambda_b", lambdaB.grad(), f.readFloats("grad_lambda_b"), TOLERANCE);
            Approx.assertClose(name + " grad_lambda_d", lambdaD.grad(), f.readFloats("grad_lambda_d"), TOLERANCE);
            if (m != null) Approx.assertClose(name + " grad_magnitude", m.grad(), f.readFloats("grad_magnitude"), TOLERANCE);

            layer.merge();
            Approx.assertClose(name + " merged", layer.weight().toFloatArray(), f.readFloats("merged"), TOLERANCE);
            layer.unmerge();
            Approx.assertClose(name + " unmerged", layer.weight().toFloatArray(), w0, TOLERANCE);
        }
    }

    @Test
    void adapterWrittenByPeftLoadsAndMatchesPyTorch(@TempDir Path tmp) throws Exception {
        Path dir = fixtures().resolve("adapter");
        AdapterFiles.Loaded loaded = AdapterFiles.read(dir);
        assertThat(loaded.config().method()).isEqualTo(VeraMethod.VERA);
        assertThat(loaded.config().r()).isEqualTo(8);
        Map<String, Linear> layers = new LinkedHashMap<>();
        try (SafetensorsFile base = SafetensorsFile.open(fixtures().resolve("adapter_base.safetensors"))) {
            for (var t : base.tensors()) {
                String path = t.name().substring(0, t.name().length() - ".weight".length());
                layers.put(path, new Linear(path, Tensor.of(base.readFloats(t.name()), t.intShape()), null));
            }
        }
        Map<String, Adapter> adapters = AdapterInjector.attach(layers, loaded, null, false, 0);
        assertThat(adapters).containsOnlyKeys(layers.keySet());
        try (SafetensorsFile ref = SafetensorsFile.open(fixtures().resolve("adapter_reference.safetensors"))) {
            for (var e : layers.entrySet()) {
                String p = e.getKey();
                Tensor x = Tensor.of(ref.readFloats(p + ".x"), ref.info(p + ".x").intShape());
                Approx.assertClose(p + " y", e.getValue().forward(Tape.inference(), x).data(), ref.readFloats(p + ".y"), TOLERANCE);
                e.getValue().merge();
                Approx.assertClose(p + " merged", e.getValue().weight().toFloatArray(), ref.readFloats(p + ".merged"), TOLERANCE);
            }
        }
        // written back: PEFT's keys and config fields
        Path back = tmp.resolve("back");
        AdapterFiles.write(back, loaded.config(), adapters);
        try (SafetensorsFile a = SafetensorsFile.open(dir.resolve(AdapterFiles.WEIGHTS_FILE));
                SafetensorsFile b = SafetensorsFile.open(back.resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(b.tensors()).extracting(t -> t.name()).containsExactlyInAnyOrderElementsOf(
                    a.tensors().stream().map(t -> t.name()).toList());
            for (var t : a.tensors()) assertThat(b.readFloats(t.name())).as(t.name()).isEqualTo(a.readFloats(t.name()));
        }
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(back.resolve("adapter_config.json").toFile());
        var original = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(json).isEqualTo(original);
    }

    @Test
    void projectionsThatWouldNeedTorchsGeneratorAreRefused(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Path src = fixtures().resolve("adapter");
        Files.copy(src.resolve(AdapterFiles.WEIGHTS_FILE), dir.resolve(AdapterFiles.WEIGHTS_FILE));
        Files.writeString(dir.resolve("adapter_config.json"), Files.readString(src.resolve("adapter_config.json"))
                .replace("\"save_projection\": true", "\"save_projection\": false"));
        assertThatThrownBy(() -> AdapterFiles.read(dir)).isInstanceOf(DoraException.class)
                .hasMessageContaining("adapter_config.json").hasMessageContaining("save_projection is false")
                .hasMessageContaining("torch's random generator");
    }
}
