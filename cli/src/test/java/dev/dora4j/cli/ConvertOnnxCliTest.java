package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code convert --onnx} on all-MiniLM-L6-v2 from the langchain4j jar on the test class path. */
class ConvertOnnxCliTest {
    static final String MODEL = "all-minilm-l6-v2.onnx";
    static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";

    static Path jar() throws Exception {
        URL url = ConvertOnnxCliTest.class.getClassLoader().getResource(MODEL);
        assertThat(url).as(MODEL + " on the test class path").isNotNull();
        String spec = url.toString();
        return Path.of(new URL(spec.substring("jar:".length(), spec.indexOf("!/"))).toURI());
    }

    static Path extract(String name, Path target) throws Exception {
        try (InputStream in = ConvertOnnxCliTest.class.getClassLoader().getResourceAsStream(name)) {
            Files.copy(in, target);
        }
        return target;
    }

    @Test
    void convertsTheJar(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("minilm");
        CliRun r = CliRun.of("convert", "--onnx", jar().toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(out.toString());
        assertThat(r.err()).contains("BERT, 6 layers, hidden 384, 12 heads, 22,565,376 parameters (F32)");
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("model_type").asText()).isEqualTo("bert");
        assertThat(config.get("num_attention_heads").asInt()).isEqualTo(12);
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve("tokenizer.json")).exists();

        CliRun inspect = CliRun.of("inspect", "--json", out.toString());
        assertThat(inspect.code()).as(inspect.err()).isZero();
        assertThat(new ObjectMapper().readTree(inspect.out()).get("tensor_count").asInt()).isEqualTo(101);
    }

    @Test
    void convertsAFileWithAnExplicitTokenizer(@TempDir Path tmp) throws Exception {
        Path onnx = extract(MODEL, tmp.resolve("encoder.onnx"));
        Path tokenizer = extract(TOKENIZER, tmp.resolve("vocab-file.json"));
        Path out = tmp.resolve("out");
        CliRun missing = CliRun.of("convert", "--onnx", onnx.toString(), "--out", out.toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.errorLines()).containsExactly("error: " + onnx + ": no tokenizer found (looked for"
                + " encoder-tokenizer.json or tokenizer.json beside it); name one with --tokenizer");
        assertThat(out).doesNotExist();

        CliRun r = CliRun.of("convert", "--onnx", onnx.toString(), "--tokenizer", tokenizer.toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.mismatch(out.resolve("tokenizer.json"), tokenizer)).isEqualTo(-1);
    }

    @Test
    void badInputIsOneLineAndWritesNothing(@TempDir Path tmp) throws Exception {
        Path cut = tmp.resolve("cut.onnx");
        try (InputStream in = ConvertOnnxCliTest.class.getClassLoader().getResourceAsStream(MODEL)) {
            Files.write(cut, in.readNBytes(1 << 20));
        }
        extract(TOKENIZER, tmp.resolve("tokenizer.json"));
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("convert", "--onnx", cut.toString(), "--out", out.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("error: " + cut + ": not a readable ONNX model (truncated or not ONNX protobuf)");
        assertThat(out).doesNotExist();

        CliRun f16 = CliRun.of("convert", "--onnx", jar().toString(), "--dtype", "F16", "--out", out.toString());
        assertThat(f16.code()).isEqualTo(1);
        assertThat(f16.err()).contains("F32 only");
        assertThat(out).doesNotExist();
    }

    @Test
    void exactlyOneSourceIsRequired(@TempDir Path tmp) {
        CliRun both = CliRun.of("convert", "--llama2c", "a.bin", "--onnx", "b.onnx", "--out", tmp.resolve("o").toString());
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");
        CliRun neither = CliRun.of("convert", "--out", tmp.resolve("o").toString());
        assertThat(neither.code()).isEqualTo(2);
        assertThat(neither.err()).contains("--llama2c").contains("--onnx");
        CliRun help = CliRun.of("convert", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("--onnx=FILE").contains("--tokenizer=FILE");
    }
}
