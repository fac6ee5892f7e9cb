package dev.dora4j.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.data.DatasetReader;
import dev.dora4j.data.Examples;
import dev.dora4j.data.Record;
import dev.dora4j.io.PickleFormat;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.model.BundledModel;
import dev.dora4j.model.Llama2cLoader;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.model.LlamaWriter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.tensor.DType;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library's side of the bad inputs (the command line's is BadInputCliTest): PyTorch pickles refused by
 * every loader without misreading them, sizes claimed by a file bounded before anything is allocated, config
 * values that would break later refused up front, data that would be dropped silently reported.
 */
class LoaderFaultsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void pickleAndZipCheckpointsAreRecognisedButAPlausibleLlama2cHeaderIsNot() {
        assertThat(PickleFormat.looksLikePickle(new byte[] {'P', 'K', 3, 4, 20, 0})).isTrue();
        assertThat(PickleFormat.looksLikePickle(new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10})).isTrue();
        assertThat(PickleFormat.looksLikePickle(new byte[] {(byte) 0x80, 5, (byte) 0x95, 0})).isTrue();
        assertThat(PickleFormat.looksLikePickle(intsLe(640, 1728, 8, 10, 10, 32000, 2048)))
                .as("a llama2.c checkpoint with dim 640 starts 0x80 0x02 0x00").isFalse();
        assertThat(PickleFormat.looksLikePickle(new byte[] {8, 0, 0, 0, 0, 0, 0, 0})).isFalse();
    }

    @Test
    void pytorchCheckpointsAreRefusedByEveryLoader() throws Exception {
        Path zip = Files.write(tmp.resolve("pytorch_model.bin"), new byte[] {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0});
        assertThatThrownBy(() -> LlamaLoader.load(zip)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(zip + ": is a PyTorch checkpoint; " + PickleFormat.ADVICE);
        assertThatThrownBy(() -> Llama2cLoader.load(zip)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(zip + ": is a PyTorch checkpoint, not a llama2.c one; " + PickleFormat.ADVICE);
        assertThatThrownBy(() -> SafetensorsFile.open(zip)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(zip + ": is a PyTorch pickle checkpoint, not safetensors; " + PickleFormat.ADVICE);
        Path pt = Files.writeString(tmp.resolve("model.pt"), "anything");
        assertThatThrownBy(() -> LlamaLoader.load(pt)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(pt + ": is a PyTorch checkpoint; " + PickleFormat.ADVICE);

        Path sharded = Files.createDirectories(tmp.resolve("sharded"));
        Files.writeString(sharded.resolve("config.json"), "{}");
        Files.writeString(sharded.resolve("pytorch_model.bin.index.json"), "{\"weight_map\": {}}");
        assertThatThrownBy(() -> LlamaLoader.load(sharded)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(sharded.resolve("pytorch_model.bin.index.json") + ": " + PickleFormat.ADVICE);
    }

    @Test
    void halfPrecisionLinearWeightsHoldingInfinityOrNaNAreReportedWithTheirTensor() throws Exception {
        LlamaModel model = LlamaLoader.load(BundledModel.checkpoint());
        for (DType dtype : List.of(DType.BF16, DType.F16)) {
            Path dir = tmp.resolve(dtype.name());
            LlamaWriter.write(model, dir, dtype, Map.of());
            Path file = dir.resolve("model.safetensors");
            String tensor = "model.layers.1.self_attn.q_proj.weight";
            short nan = (short) (dtype == DType.BF16 ? 0x7fc0 : 0x7e00);
            pokeHalf(file, tensor, 5, nan);
            assertThatThrownBy(() -> LlamaLoader.load(dir)).isExactlyInstanceOf(DoraException.class)
                    .hasMessage(file + ": tensor '" + tensor + "' holds a non-finite value (NaN, " + dtype + ") at index 5");
            pokeHalf(file, tensor, 5, (short) 0);
            pokeHalf(file, "model.layers.2.mlp.down_proj.weight", 9, (short) (dtype == DType.BF16 ? 0xff80 : 0xfc00));
            assertThatThrownBy(() -> LlamaLoader.load(dir)).isExactlyInstanceOf(DoraException.class)
                    .hasMessage(file + ": tensor 'model.layers.2.mlp.down_proj.weight' holds a non-finite value"
                            + " (-Infinity, " + dtype + ") at index 9");
        }
    }

    @Test
    void aLlama2cHeaderClaimingHugeDimensionsIsCheckedAgainstTheFileBeforeAllocating() throws Exception {
        Path file = Files.write(tmp.resolve("huge.bin"), intsLe(1 << 16, 1 << 20, 1 << 10, 1 << 8, 1 << 8, 1 << 20, 1 << 20));
        long before = usedHeap();
        assertThatThrownBy(() -> Llama2cLoader.load(file)).isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith(file + ": checkpoint holds 0 floats after its header but the header implies ")
                .hasMessageEndingWith(" (file truncated or header wrong)");
        assertThat(usedHeap() - before).as("no allocation sized by the header").isLessThan(64L << 20);
    }

    @Test
    void configValuesThatWouldFailLaterAreRefusedWithTheirKey() throws Exception {
        String base = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":1,"
                + "\"num_attention_heads\":8,\"vocab_size\":32";
        assertThatThrownBy(() -> LlamaConfig.parse(JSON.readTree(base + ",\"max_position_embeddings\":2000000000}"), "c.json"))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("config: max_position_embeddings 2000000000 with head_dim 8 needs a rotary table larger than"
                        + " 268435456 entries");
        assertThatThrownBy(() -> LlamaConfig.parse(JSON.readTree(base + ",\"rope_theta\":0}"), "c.json"))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("config: key 'rope_theta' must be positive and finite, got 0.0");
        assertThatThrownBy(() -> LlamaConfig.parse(JSON.readTree(base + ",\"rms_norm_eps\":-1}"), "c.json"))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage("config: key 'rms_norm_eps' must be positive and finite, got -1.0");
        Path file = Files.writeString(tmp.resolve("config.json"), base + ",\"max_position_embeddings\":-5}");
        assertThatThrownBy(() -> LlamaConfig.read(file)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(file + ": key 'max_position_embeddings' must be positive, got -5");
    }

    @Test
    void patternKeysThatAreNotRegularExpressionsAreRefusedWhenTheConfigIsRead() throws Exception {
        String base = "{\"peft_type\":\"LORA\",\"r\":4,\"target_modules\":[\"q_proj\"]";
        assertThatThrownBy(() -> AdapterConfig.parse(JSON.readTree(base + ",\"rank_pattern\":{\"q[\":2}}"), "a.json"))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith("a.json: rank_pattern key 'q[' is not a valid regular expression: ");
        assertThatThrownBy(() -> AdapterConfig.parse(JSON.readTree(base + ",\"alpha_pattern\":{\"*\":2}}"), "a.json"))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageStartingWith("a.json: alpha_pattern key '*' is not a valid regular expression: ");
        AdapterConfig ok = AdapterConfig.parse(JSON.readTree(base + ",\"rank_pattern\":{\"q_proj)|(v_proj\":2}}"), "a");
        assertThat(ok.rankFor("model.layers.0.self_attn.q_proj")).as("a key valid as PEFT wraps it").isEqualTo(2);
    }

    @Test
    void dataThatWouldBeDroppedSilentlyIsReported() throws Exception {
        Path array = Files.writeString(tmp.resolve("data.json"), "[{\"text\": \"a\"}]\n{\"text\": \"b\"}\n");
        assertThatThrownBy(() -> DatasetReader.read(array)).isExactlyInstanceOf(DoraException.class)
                .hasMessage(array + ":2: not valid JSON: more content after the first JSON value");
        Path bom = Files.write(tmp.resolve("bom.jsonl"), "\uFEFF{\"text\": \"a\"}\n{\"text\": \"b\"}\n".getBytes("UTF-8"));
        assertThat(DatasetReader.read(bom)).hasSize(2);
    }

    @Test
    void truncationIsCountedPerRecord() throws Exception {
        try (Tokenizer tok = Tokenizers.load(BundledModel.checkpoint(), null)) {
            String longText = "Once upon a time there was a little robot who lived in a lighthouse by the sea.";
            List<Record> records = List.of(new Record.Text("a", longText), new Record.Text("b", "Hi."),
                    new Record.PromptCompletion("c", longText, " Yes."), new Record.Tokenized("d", new int[20], new int[20]));
            Examples.Prepared prepared = Examples.prepare(records, tok, 12, false);
            assertThat(prepared.truncated()).isEqualTo(3);
            assertThat(prepared.truncatedWithoutTargets()).as("the prompt alone fills the 12 tokens").isEqualTo(1);
            assertThat(prepared.examples()).allMatch(e -> e.length() <= 12);
            assertThat(Examples.prepare(records, tok, 4096, false).truncated()).isZero();
        }
    }

    @Test
    void aConvertIntoAFolderThatIsNotAModelRefusesToDeleteIt() throws Exception {
        LlamaModel model = LlamaLoader.load(BundledModel.checkpoint());
        Path home = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(home.resolve("notes.txt"), "precious");
        assertThatThrownBy(() -> LlamaWriter.write(model, home, DType.F32, Map.of()))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(home + ": exists and is not a model directory (no config.json); refusing to replace it,"
                        + " choose a new or empty output directory");
        assertThat(home.resolve("notes.txt")).hasContent("precious");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        LlamaWriter.write(model, empty, DType.F32, Map.of());
        LlamaWriter.write(model, empty, DType.F16, Map.of());
        assertThat(empty.resolve("model.safetensors")).exists();
    }

    /** Overwrites element {@code index} of a 2-byte tensor in place. */
    private static void pokeHalf(Path file, String tensor, int index, short bits) throws Exception {
        long at;
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            at = 8 + headerLength + st.info(tensor).begin() + 2L * index;
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, bits), at);
        }
    }

    private static byte[] intsLe(int... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putInt(v);
        }
        return b.array();
    }

    private static long usedHeap() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }
}
