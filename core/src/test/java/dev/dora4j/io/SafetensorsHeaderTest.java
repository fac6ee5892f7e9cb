package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Header validation on synthetic headers, including offsets beyond what a test can put on disk. */
class SafetensorsHeaderTest {
    private static final long GIB = 1L << 30;

    private static SafetensorsHeader parse(String json, long dataLength) {
        return SafetensorsHeader.parse("big.safetensors", json.getBytes(StandardCharsets.UTF_8), dataLength);
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin
                + "," + end + "]}";
    }

    @Test
    void offsetsBeyondTwoAndFourGigabytesAreExact() {
        long embedBytes = 128_256L * 4096 * 2;
        long second = 3 * GIB;
        String json = "{" + entry("model.embed_tokens.weight", "BF16", "[128256,4096]", 0, embedBytes) + ","
                + entry("lm_head.weight", "F32", "[262144,4096]", embedBytes, embedBytes + 4 * GIB) + ","
                + entry("tail", "F16", "[3]", embedBytes + 4 * GIB, embedBytes + 4 * GIB + 6) + "}";
        SafetensorsHeader header = parse(json, embedBytes + 4 * GIB + 6 + second);
        assertThat(header.tensors()).extracting(TensorInfo::name)
                .containsExactly("model.embed_tokens.weight", "lm_head.weight", "tail");
        TensorInfo head = header.tensors().get(1);
        assertThat(head.begin()).isEqualTo(1_050_673_152L);
        assertThat(head.end()).isEqualTo(1_050_673_152L + 4 * GIB);
        assertThat(head.numel()).isEqualTo(1L << 30);
        assertThat(head.dtype()).isEqualTo(DType.F32);
        assertThat(header.tensors().get(2).begin()).isGreaterThan(4 * GIB);
    }

    @Test
    void longOffsetsPastTheDataAreRefused() {
        long end = 5 * GIB + 4;
        String json = "{" + entry("w", "F32", "[" + (end / 4) + "]", 0, end) + "}";
        assertThat(parse(json, end).tensors()).hasSize(1);
        assertThatThrownBy(() -> parse(json, end - 1))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("big.safetensors: tensor 'w': data offsets [0, 5368709124) run past the end of the data"
                        + " (5368709123 bytes after the header)");
    }

    @Test
    void overlapBetweenFarApartTensorsIsFound() {
        String json = "{" + entry("a", "U8", "[" + 3 * GIB + "]", 0, 3 * GIB) + ","
                + entry("b", "U8", "[4]", 3 * GIB - 1, 3 * GIB + 3) + "}";
        assertThatThrownBy(() -> parse(json, 4 * GIB))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("big.safetensors: tensors 'a' [0, 3221225472) and 'b' [3221225471, 3221225475) overlap");
    }

    @Test
    void overlapWithAnEarlierLongerTensorIsFound() {
        String json = "{" + entry("outer", "U8", "[100]", 0, 100) + "," + entry("first", "U8", "[10]", 10, 20)
                + "," + entry("inner", "U8", "[10]", 50, 60) + "}";
        assertThatThrownBy(() -> parse(json, 100))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("big.safetensors: tensors 'outer' [0, 100) and 'first' [10, 20) overlap");
    }

    @Test
    void emptyTensorsOverlapNothing() {
        String json = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("e1", "F32", "[0]", 4, 4) + ","
                + entry("e2", "BF16", "[5,0]", 4, 4) + "}";
        assertThat(parse(json, 8).tensors()).extracting(TensorInfo::name).containsExactly("a", "e1", "e2");
    }

    @Test
    void emptyHeaderHasNoTensors() {
        SafetensorsHeader header = parse("{}", 0);
        assertThat(header.tensors()).isEmpty();
        assertThat(header.metadata()).isEmpty();
    }

    @Test
    void encodeIsCompactPaddedAndParsesBack() {
        List<TensorInfo> tensors = List.of(
                new TensorInfo("b", DType.BF16, "BF16", new long[] {2, 3}, 0, 12),
                new TensorInfo("a", null, "I64", new long[] {}, 12, 20));
        byte[] bytes = SafetensorsHeader.encode(Map.of("format", "pt"), tensors);
        String json = new String(bytes, StandardCharsets.UTF_8);
        assertThat(bytes.length % 8).isZero();
        assertThat(json.stripTrailing()).isEqualTo("{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                + "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[12,20]}}");
        assertThat(json.substring(json.stripTrailing().length())).matches(" *");
        SafetensorsHeader parsed = SafetensorsHeader.parse("x", bytes, 20);
        assertThat(parsed.tensors()).containsExactlyElementsOf(tensors);
        assertThat(parsed.metadata()).isEqualTo(Map.of("format", "pt"));
    }

    @Test
    void encodeEscapesNamesAndKeepsUnicode() {
        List<TensorInfo> tensors = List.of(new TensorInfo("we\"ird\\näme", DType.F32, "F32", new long[] {1}, 0, 4));
        byte[] bytes = SafetensorsHeader.encode(Map.of(), tensors);
        assertThat(SafetensorsHeader.parse("x", bytes, 4).tensors().getFirst().name()).isEqualTo("we\"ird\\näme");
    }
}
