package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.model.BundledModel;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bad input of docs/bad-inputs.md, driven through the command line: each must end with exit code 1
 * and exactly one line on stderr, {@code error: } followed by the message listed here, which names the file
 * and the tensor, key or line at fault; a command with {@code --out} must not have created it. In the
 * messages, {@code {case}} stands for the case's own folder and {@code {root}} for the shared fixtures:
 * stories260K converted to a Hugging Face directory ({@code {root}/stories}, F32, and
 * {@code {root}/stories-f16}), a DoRA adapter for it ({@code {root}/adapter}) and three short records
 * ({@code {root}/data.jsonl}). The table of docs/bad-inputs.md is generated from these cases and must match.
 */
class BadInputCliTest {
    private static final String TRAIN_FLAGS = "--steps 1 --batch 2 --micro-batch 2 --seq-len 32";
    private static final Path DOC = Path.of("..", "docs", "bad-inputs.md");
    static final String TABLE_BEGIN = "<!-- table generated from BadInputCliTest: begin -->";
    static final String TABLE_END = "<!-- table generated from BadInputCliTest: end -->";

    @TempDir
    static Path root;
    private static final Map<String, String> RESULTS = new LinkedHashMap<>();

    /** Writes a case's files into its folder and gives the command line (with {case} and {root} unexpanded). */
    @FunctionalInterface
    interface Setup {
        String prepare(Path dir) throws Exception;
    }

    /**
     * @param group    the section of the table
     * @param input    what is wrong, in words
     * @param setup    prepares the files and returns the command
     * @param expected the message after {@code error: }
     */
    record Case(String group, String input, Setup setup, String expected) {
        @Override
        public String toString() {
            return group + ": " + input;
        }
    }

    @BeforeAll
    static void fixtures() throws Exception {
        Path checkpoint = BundledModel.checkpoint();
        assertThat(Main.execute("convert", "--llama2c", checkpoint.toString(), "--out", root.resolve("stories").toString()))
                .isZero();
        assertThat(Main.execute("convert", "--llama2c", checkpoint.toString(), "--dtype", "F16", "--out",
                root.resolve("stories-f16").toString())).isZero();
        Files.writeString(root.resolve("data.jsonl"), """
                {"text": "Pip lit the lamp."}
                {"prompt": "Who kept the light?", "completion": " Pip did."}
                {"instruction": "Name the robot.", "input": "", "output": "Pip"}
                """);
        LlamaModel model = LlamaLoader.load(root.resolve("stories"));
        AdapterConfig config = AdapterConfig.create(2, 4, 0f, List.of("q_proj", "v_proj"), true, false, "CAUSAL_LM",
                "stories260K");
        AdapterFiles.write(root.resolve("adapter"), config,
                AdapterInjector.inject(model.linears(), config, LlamaModel.OUTPUT_HEAD, 1));
    }

    static Stream<Case> cases() {
        return Stream.concat(Stream.of(
                // safetensors
                safetensors("truncated body: the last tensor's bytes are cut off",
                        header("{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[0,256]}}"),
                        new byte[100],
                        "{case}/model/model.safetensors: tensor 'model.norm.weight': data offsets [0, 256) run past the"
                                + " end of the data (100 bytes after the header)"),
                safetensors("header length past the end of the file", lengthPrefix(4096), new byte[64],
                        "{case}/model/model.safetensors: header length 4096 bytes runs past the end of the file (64 bytes"
                                + " follow the length; is this a safetensors file?)"),
                safetensors("header claims 2 GB", lengthPrefix(2L << 30), new byte[64],
                        "{case}/model/model.safetensors: header length 2147483648 bytes exceeds the limit of 100000000"
                                + " bytes (is this a safetensors file?)"),
                safetensors("header is not JSON", header("weights: [1, 2, 3]"), new byte[0],
                        "{case}/model/model.safetensors: header is not valid JSON: Unrecognized token 'weights':"
                                + " was expecting (JSON String, Number, Array, Object or token 'null', 'true' or"
                                + " 'false') (line 1, column 1)"),
                safetensors("negative offset",
                        header("{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}"),
                        new byte[4],
                        "{case}/model/model.safetensors: tensor 'model.norm.weight': 'data_offsets' has a negative value -4"),
                safetensors("overlapping tensors",
                        header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}"),
                        new byte[24],
                        "{case}/model/model.safetensors: tensors 'a' [0, 16) and 'b' [8, 24) overlap"),
                safetensors("dtype and shape do not match the byte count",
                        header("{\"model.norm.weight\":{\"dtype\":\"F16\",\"shape\":[64],\"data_offsets\":[0,256]}}"),
                        new byte[256],
                        "{case}/model/model.safetensors: tensor 'model.norm.weight': data offsets [0, 256) do not match"
                                + " dtype F16 and shape [64] (128 bytes)"),
                safetensors("duplicate tensor names",
                        header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"),
                        new byte[8],
                        "{case}/model/model.safetensors: header is not valid JSON: Duplicate field 'a' (line 1, column 58)"),
                safetensors("shape whose byte count overflows",
                        header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}"),
                        new byte[4],
                        "{case}/model/model.safetensors: tensor 'a': shape [4611686018427387904, 4] of dtype F32 overflows"
                                + " a 64-bit byte count"),
                safetensors("a PyTorch zip checkpoint named model.safetensors",
                        "PK\u0003\u0004\u0014\u0000\u0000\u0000\u0008\u0000".getBytes(StandardCharsets.ISO_8859_1),
                        "archive/data.pkl".getBytes(StandardCharsets.US_ASCII),
                        "{case}/model/model.safetensors: is a PyTorch pickle checkpoint, not safetensors; PyTorch pickle"
                                + " checkpoints are never loaded (unpickling can run code); convert the model to safetensors"
                                + " (save_pretrained(..., safe_serialization=True))"),
                new Case("safetensors", "F16 weight holding infinity", dir -> {
                    Path model = copy(root.resolve("stories-f16"), dir.resolve("model"));
                    poke(model.resolve("model.safetensors"), "model.layers.0.input_layernorm.weight", 3, (short) 0x7c00);
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/model.safetensors: tensor 'model.layers.0.input_layernorm.weight' holds a non-finite"
                        + " value (Infinity, F16) at index 3"),
                new Case("safetensors", "F32 weight holding NaN", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    pokeFloat(model.resolve("model.safetensors"), "model.norm.weight", 5, Float.NaN);
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/model.safetensors: tensor 'model.norm.weight' holds a non-finite value (NaN, F32) at"
                        + " index 5"),

                // config.json
                config("config.json missing a required field", "\"hidden_size\" : 64,", "",
                        "{case}/model/config.json: missing key 'hidden_size'"),
                config("config.json with an unknown model_type", "\"model_type\" : \"llama\"", "\"model_type\" : \"gpt2\"",
                        "{case}/model/config.json: model_type 'gpt2' is not supported (supported: llama, mistral, qwen2)"),
                config("config.json with max_position_embeddings 0", "\"max_position_embeddings\" : 512",
                        "\"max_position_embeddings\" : 0",
                        "{case}/model/config.json: key 'max_position_embeddings' must be positive, got 0"),
                config("config.json whose sizes do not match the weights", "\"hidden_size\" : 64", "\"hidden_size\" : 128",
                        "{case}/model/model.safetensors: tensor 'model.embed_tokens.weight' has shape [512, 64] but"
                                + " config.json implies [512, 128]"),
                new Case("config.json", "config.json that is not JSON", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    Files.writeString(model.resolve("config.json"), "model_type = llama\n");
                    return "train --model {case}/model --data {root}/data.jsonl --out {case}/out " + TRAIN_FLAGS;
                }, "{case}/model/config.json: not valid JSON: Unrecognized token 'model_type': was expecting (JSON"
                        + " String, Number, Array, Object or token 'null', 'true' or 'false')"),
                new Case("config.json", "no config.json", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    Files.delete(model.resolve("config.json"));
                    return "train --model {case}/model --data {root}/data.jsonl --out {case}/out " + TRAIN_FLAGS;
                }, "{case}/model/config.json: model config not found"),

                // adapter_config.json and adapter tensors
                adapterConfig("unknown peft_type", "\"peft_type\" : \"LORA\"", "\"peft_type\" : \"IA3\"",
                        "{case}/adapter/adapter_config.json: peft_type 'IA3' is not supported (only LORA or VERA, with or"
                                + " without use_dora)"),
                adapterConfig("r = 0", "\"r\" : 2", "\"r\" : 0",
                        "{case}/adapter/adapter_config.json: key 'r' must be a positive rank, got 0"),
                adapterConfig("target_modules that match nothing", "\"q_proj\", \"v_proj\"", "\"qkv_proj\"",
                        "{case}/adapter/adapter_config.json: target_modules [qkv_proj] match no linear layer of the model"),
                adapterConfig("target_modules regex that does not compile", "[ \"q_proj\", \"v_proj\" ]", "\"(q|v_proj\"",
                        "{case}/adapter/adapter_config.json: key 'target_modules' '(q|v_proj' is not a valid regular"
                                + " expression: Unclosed group near index 9"),
                new Case("adapter", "adapter tensors whose shapes do not match the model", dir -> {
                    copy(Path.of("../core/src/test/resources/fixtures/merge/adapter"), dir.resolve("adapter"));
                    return "merge --model {root}/stories --adapter {case}/adapter --out {case}/out";
                }, "{case}/adapter/adapter_model.safetensors: tensor"
                        + " 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight' is [4, 24] and lora_B [16, 4],"
                        + " but the model's 'model.layers.0.mlp.down_proj.weight' is [64, 172]"),
                new Case("adapter", "adapter tensors whose shapes do not match the model (eval)", dir -> {
                    copy(Path.of("../core/src/test/resources/fixtures/merge/adapter"), dir.resolve("adapter"));
                    return "eval --model {root}/stories --adapter {case}/adapter --data {root}/data.jsonl";
                }, "{case}/adapter/adapter_model.safetensors: tensor"
                        + " 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' is [4, 16] and lora_B [16, 4],"
                        + " but the model's weight is [64, 64]"),
                new Case("adapter", "adapter tensor holding NaN", dir -> {
                    Path adapter = copy(root.resolve("adapter"), dir.resolve("adapter"));
                    pokeFloat(adapter.resolve(AdapterFiles.WEIGHTS_FILE),
                            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", 7, Float.NaN);
                    return "merge --model {root}/stories --adapter {case}/adapter --out {case}/out";
                }, "{case}/adapter/adapter_model.safetensors: tensor"
                        + " 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight' holds a non-finite value (NaN,"
                        + " F32) at index 7"),
                new Case("adapter", "only a pickled adapter_model.bin", dir -> {
                    Path adapter = copy(root.resolve("adapter"), dir.resolve("adapter"));
                    Files.move(adapter.resolve(AdapterFiles.WEIGHTS_FILE), adapter.resolve("adapter_model.bin"));
                    return "merge --model {root}/stories --adapter {case}/adapter --out {case}/out";
                }, "{case}/adapter/adapter_model.safetensors: adapter weights not found (adapter_model.bin is a pickle"
                        + " file, which is never loaded: save the adapter with safe_serialization)"),

                // data files
                data("a line that is not JSON", "{\"text\": \"one\"}\n{\"text\": \"two\n",
                        "{case}/data.jsonl:2: not valid JSON: Unexpected end-of-input: was expecting closing quote for a"
                                + " string value"),
                data("a record missing a field", "{\"prompt\": \"Who kept the light?\"}\n",
                        "{case}/data.jsonl:1: missing key 'completion'"),
                data("a record with none of the known fields", "{\"text\": \"ok\"}\n{\"question\": \"?\"}\n",
                        "{case}/data.jsonl:2: record has none of the keys 'text', 'prompt'/'completion',"
                                + " 'instruction'/'input'/'output' or 'input_ids'"),
                data("two JSON values on one line", "{\"text\": \"a\"} {\"text\": \"b\"}\n",
                        "{case}/data.jsonl:1: not valid JSON: more content after the first JSON value"),
                data("an empty file", "", "{case}/data.jsonl: holds no records"),
                data("a token id outside the vocabulary", "{\"input_ids\": [1, 600, 2]}\n",
                        "{case}/data.jsonl:1: token id 600 is outside the vocabulary of 512"),
                data("labels that do not line up with input_ids", "{\"input_ids\": [1, 5, 2], \"labels\": [5]}\n",
                        "{case}/data.jsonl:1: 'labels' has 1 entries but 'input_ids' has 3"),
                new Case("data", "a file that is not UTF-8", dir -> {
                    Files.write(dir.resolve("data.jsonl"), new byte[] {'{', '"', 't', '"', ':', '"', (byte) 0xff, '"', '}'});
                    return "eval --data {case}/data.jsonl";
                }, "{case}/data.jsonl: not valid UTF-8 text"),
                new Case("data", "a data file that does not exist", dir ->
                        "train --data {case}/missing.jsonl --out {case}/out " + TRAIN_FLAGS,
                        "{case}/missing.jsonl: data file not found"),

                // tokenizers
                new Case("tokenizer", "no tokenizer beside the model", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    Files.delete(model.resolve("tokenizer.bin"));
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model: no tokenizer found (looked for tokenizer.json and tokenizer.bin)"),
                new Case("tokenizer", "a truncated tokenizer.bin", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    byte[] tok = Files.readAllBytes(model.resolve("tokenizer.bin"));
                    Files.write(model.resolve("tokenizer.bin"), Arrays.copyOf(tok, tok.length - 3));
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/tokenizer.bin: file ends inside token 511 (its 3 bytes of text are missing)"),
                new Case("tokenizer", "a tokenizer.bin claiming a huge token length", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    Path tok = model.resolve("tokenizer.bin");
                    byte[] bytes = Files.readAllBytes(tok);
                    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1 << 30);
                    Files.write(tok, bytes);
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/tokenizer.bin: max_token_length 1073741824 is not a valid length for a 6227-byte file"),
                new Case("tokenizer", "a tokenizer.json that is not JSON", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    Files.delete(model.resolve("tokenizer.bin"));
                    Files.writeString(model.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/tokenizer.json: not valid JSON: Unexpected end-of-input within/between Object entries"
                        + " (line 1)"),
                new Case("tokenizer", "--tokenizer naming a missing file", dir ->
                        "eval --model {root}/stories --tokenizer {case}/tokenizer.json --data {root}/data.jsonl",
                        "{case}/tokenizer.json: tokenizer file does not exist"),

                // code and paths from files
                new Case("security", "--model naming a PyTorch zip checkpoint (pytorch_model.bin)", dir -> {
                    Files.write(dir.resolve("pytorch_model.bin"), zipBytes());
                    return "train --model {case}/pytorch_model.bin --data {root}/data.jsonl --out {case}/out " + TRAIN_FLAGS;
                }, "{case}/pytorch_model.bin: is a PyTorch checkpoint; PyTorch pickle checkpoints are never loaded"
                        + " (unpickling can run code); convert the model to safetensors"
                        + " (save_pretrained(..., safe_serialization=True))"),
                new Case("security", "--model naming a legacy pickle (.bin, protocol 2)", dir -> {
                    Files.write(dir.resolve("model.bin"), new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 'l', (byte) 0xfc,
                        (byte) 0x9c, 'F', (byte) 0xf9, ' ', 'j', (byte) 0xa8, 'P', 0x19, '.'});
                    return "eval --model {case}/model.bin --data {root}/data.jsonl";
                }, "{case}/model.bin: is a PyTorch checkpoint; PyTorch pickle checkpoints are never loaded (unpickling"
                        + " can run code); convert the model to safetensors (save_pretrained(..., safe_serialization=True))"),
                new Case("security", "a model directory holding only pytorch_model.bin", dir -> {
                    Path model = Files.createDirectories(dir.resolve("model"));
                    Files.copy(root.resolve("stories/config.json"), model.resolve("config.json"));
                    Files.write(model.resolve("pytorch_model.bin"), zipBytes());
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/pytorch_model.bin: PyTorch pickle checkpoints are never loaded (unpickling can run"
                        + " code); convert the model to safetensors (save_pretrained(..., safe_serialization=True))"),
                new Case("security", "a shard index naming a file outside the model directory", dir -> {
                    Path model = copy(root.resolve("stories"), dir.resolve("model"));
                    Files.move(model.resolve("model.safetensors"), dir.resolve("elsewhere.safetensors"));
                    Files.writeString(model.resolve("model.safetensors.index.json"),
                            "{\"weight_map\": {\"model.embed_tokens.weight\": \"../elsewhere.safetensors\"}}");
                    return "eval --model {case}/model --data {root}/data.jsonl";
                }, "{case}/model/model.safetensors.index.json: tensor 'model.embed_tokens.weight': shard file"
                        + " '../elsewhere.safetensors' escapes the model directory"),
                new Case("security", "a llama2.c header claiming huge dimensions", dir -> {
                    Files.write(dir.resolve("huge.bin"), llama2cHeader(1 << 20, 1 << 22, 1000, 64, 64, 1 << 20, 1 << 20));
                    return "convert --llama2c {case}/huge.bin --tokenizer {root}/stories/tokenizer.bin --out {case}/out";
                }, "{case}/huge.bin: checkpoint holds 16 floats after its header but the header implies"
                        + " 17593304834113536 (file truncated or header wrong)"),
                new Case("security", "a llama2.c header that is not one", dir -> {
                    Files.write(dir.resolve("garbage.bin"), llama2cHeader(-7, 0, 3, 5, 0, 0, 1));
                    return "eval --model {case}/garbage.bin --data {root}/data.jsonl";
                }, "{case}/garbage.bin: not a llama2.c checkpoint: header dim=-7 hidden_dim=0 n_layers=3 n_heads=5"
                        + " n_kv_heads=0 vocab_size=0 seq_len=1"),

                // onnx
                new Case("onnx", "an ONNX file that is text", dir -> {
                    Files.writeString(dir.resolve("model.onnx"), "hello\n");
                    return "convert --onnx {case}/model.onnx --out {case}/out";
                }, "{case}/model.onnx: not a readable ONNX model (truncated or not ONNX protobuf): Protocol message end-group tag"
                        + " did not match expected tag."),

                // numbers
                new Case("numbers", "an adapter whose values overflow the forward pass", dir -> {
                    Path adapter = copy(root.resolve("adapter"), dir.resolve("adapter"));
                    String b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
                    for (int i = 0; i < 128; i++) {
                        pokeFloat(adapter.resolve(AdapterFiles.WEIGHTS_FILE), b, i, 3e38f);
                    }
                    return "train --init-adapter {case}/adapter --data {root}/data.jsonl --out {case}/out " + TRAIN_FLAGS;
                }, "step 1: the loss is NaN; training stopped (no checkpoint was written yet)")),
                BnbBadInputCases.cases());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void badInputIsRefusedWithOneLineNamingItAndWritesNothing(Case c) throws Exception {
        Path dir = Files.createDirectories(root.resolve("cases").resolve(c.input().replaceAll("[^A-Za-z0-9]+", "-")));
        String command = c.setup().prepare(dir);
        List<String> args = new ArrayList<>();
        for (String word : command.split(" ")) {
            args.add(word.replace("{case}", dir.toString()).replace("{root}", root.toString()));
        }
        CliRun run = CliRun.of(args);
        String message = run.errorLines().isEmpty() ? run.err()
                : run.errorLines().getFirst().substring("error: ".length());
        String shown = message.replace(dir.toString(), "{case}").replace(root.toString(), "{root}");
        RESULTS.put(c.group() + "\t" + c.input() + "\t" + command, shown);

        assertThat(run.code()).as(run.err()).isEqualTo(1);
        assertThat(run.errorLines()).as(run.err()).hasSize(1);
        assertThat(shown).isEqualTo(c.expected());
        assertThat(run.err()).doesNotContain("\tat ");
        if (!c.group().equals("numbers")) {
            assertThat(run.err().strip().lines()).as("stderr holds the error line alone").hasSize(1);
        }
        int out = args.indexOf("--out");
        if (out >= 0) {
            Path outDir = Path.of(args.get(out + 1));
            if (c.group().equals("numbers")) {
                assertThat(outDir.resolve(AdapterFiles.WEIGHTS_FILE)).as("no adapter is written").doesNotExist();
            } else {
                assertThat(outDir).as("--out is not created").doesNotExist();
            }
        }
    }

    @Test
    void recordsLongerThanTheSequenceAreTruncatedAndCounted() throws Exception {
        Path dir = Files.createDirectories(root.resolve("truncation"));
        Path data = dir.resolve("long.jsonl");
        String story = "Pip the lighthouse robot climbed the stairs every evening to light the lamp for the boats. ";
        Files.writeString(data, "{\"text\": \"" + story.repeat(4) + "\"}\n{\"text\": \"Pip.\"}\n"
                + "{\"prompt\": \"" + story.repeat(3) + "\", \"completion\": \" Yes.\"}\n");
        CliRun train = CliRun.of("train", "--data", data.toString(), "--out", dir.resolve("out").toString(), "--steps", "1",
                "--batch", "3", "--micro-batch", "3", "--seq-len", "16");
        assertThat(train.code()).as(train.err()).isZero();
        String note = "warning: " + data + ": 2 of 3 records truncated to --seq-len 16 (1 of them left with no target token)";
        assertThat(train.err().lines()).contains(note);

        CliRun eval = CliRun.of("eval", "--data", data.toString(), "--seq-len", "16");
        assertThat(eval.code()).as(eval.err()).isZero();
        String evalNote = "warning: " + data + ": 2 of 3 records truncated to --seq-len 16 (1 of them left with no target token)";
        assertThat(eval.err().lines()).contains(evalNote);
        CliRun context = CliRun.of("eval", "--data", data.toString());
        assertThat(context.err().lines()).noneMatch(l -> l.contains("truncated"));
    }

    @Test
    void namesFromAFileCannotSplitTheErrorLineOrDriveTheTerminal() throws Exception {
        Path model = copy(root.resolve("stories"), root.resolve("control-characters"));
        Files.write(model.resolve("model.safetensors"),
                header("{\"evil\\nname\\u001b[31m\\u2028\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"));
        CliRun run = CliRun.of("eval", "--model", model.toString(), "--data", root.resolve("data.jsonl").toString());
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).isEqualTo("error: " + model.resolve("model.safetensors") + ": tensor 'evil name\\u001b[31m ':"
                + " data offsets [0, 8) run past the end of the data (0 bytes after the header)" + System.lineSeparator());
    }

    @Test
    void debugPrintsTheStackTraceForThatRunOnly() {
        String missing = root.resolve("missing.jsonl").toString();
        CliRun debug = CliRun.of("eval", "--debug", "--data", missing);
        assertThat(debug.code()).isEqualTo(1);
        assertThat(debug.err()).contains("\tat dev.dora4j.").endsWith("error: " + missing + ": data file not found"
                + System.lineSeparator());
        CliRun plain = CliRun.of("eval", "--data", missing);
        assertThat(plain.err()).isEqualTo("error: " + missing + ": data file not found" + System.lineSeparator());
    }

    @AfterAll
    static void tableMatchesTheDocument() throws IOException {
        StringBuilder table = new StringBuilder("| group | bad input | command (`dora4j ...`) | message after `error: ` |\n");
        table.append("|---|---|---|---|\n");
        RESULTS.forEach((key, message) -> {
            String[] parts = key.split("\t");
            table.append("| ").append(parts[0]).append(" | ").append(parts[1]).append(" | `").append(parts[2])
                    .append("` | `").append(message.replace("|", "\\|")).append("` |\n");
        });
        Path generated = Path.of("target", "bad-inputs-table.md");
        Files.createDirectories(generated.getParent());
        Files.writeString(generated, table);
        if (RESULTS.size() < cases().count()) {
            return;
        }
        String doc = Files.readString(DOC);
        String section = doc.substring(doc.indexOf(TABLE_BEGIN) + TABLE_BEGIN.length() + 1, doc.indexOf(TABLE_END));
        assertThat(section).as("the table of %s is regenerated into %s; copy it between the markers", DOC.normalize(),
                generated).isEqualTo(table.toString());
    }

    private static Case safetensors(String input, byte[] head, byte[] rest, String expected) {
        return new Case("safetensors", input, dir -> {
            Path model = copy(root.resolve("stories"), dir.resolve("model"));
            byte[] bytes = Arrays.copyOf(head, head.length + rest.length);
            System.arraycopy(rest, 0, bytes, head.length, rest.length);
            Files.write(model.resolve("model.safetensors"), bytes);
            return "merge --model {case}/model --adapter {root}/adapter --out {case}/out";
        }, expected);
    }

    private static Case config(String input, String from, String to, String expected) {
        return new Case("config.json", input, dir -> {
            Path model = copy(root.resolve("stories"), dir.resolve("model"));
            String config = Files.readString(model.resolve("config.json"));
            assertThat(config).contains(from);
            Files.writeString(model.resolve("config.json"), config.replace(from, to));
            return "train --model {case}/model --data {root}/data.jsonl --out {case}/out " + TRAIN_FLAGS;
        }, expected);
    }

    private static Case adapterConfig(String input, String from, String to, String expected) {
        return new Case("adapter", input, dir -> {
            Path adapter = copy(root.resolve("adapter"), dir.resolve("adapter"));
            String config = Files.readString(adapter.resolve(AdapterConfig.FILE_NAME));
            assertThat(config).contains(from);
            Files.writeString(adapter.resolve(AdapterConfig.FILE_NAME), config.replace(from, to));
            return "merge --model {root}/stories --adapter {case}/adapter --out {case}/out";
        }, expected);
    }

    private static Case data(String input, String content, String expected) {
        return new Case("data", input, dir -> {
            Files.writeString(dir.resolve("data.jsonl"), content);
            return "train --data {case}/data.jsonl --out {case}/out " + TRAIN_FLAGS;
        }, expected);
    }

    /** The 8-byte little-endian length prefix of a safetensors file. */
    private static byte[] lengthPrefix(long claimed) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(claimed).array();
    }

    private static byte[] header(String json) {
        byte[] text = json.getBytes(StandardCharsets.UTF_8);
        byte[] out = Arrays.copyOf(lengthPrefix(text.length), 8 + text.length);
        System.arraycopy(text, 0, out, 8, text.length);
        return out;
    }

    private static byte[] zipBytes() {
        return "PK\u0003\u0004\u0014\u0000\u0000\u0000\u0008\u0000archive/data.pkl".getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] llama2cHeader(int... fields) {
        ByteBuffer b = ByteBuffer.allocate(fields.length * 4 + 64).order(ByteOrder.LITTLE_ENDIAN);
        for (int f : fields) {
            b.putInt(f);
        }
        return b.array();
    }

    /** Overwrites element {@code index} of a 2-byte tensor in place. */
    private static void poke(Path file, String tensor, int index, short value) throws IOException {
        long at = offsetOf(file, tensor) + 2L * index;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(at);
            raf.write(value & 0xff);
            raf.write((value >> 8) & 0xff);
        }
    }

    /** Overwrites element {@code index} of an F32 tensor in place. */
    private static void pokeFloat(Path file, String tensor, int index, float value) throws IOException {
        long at = offsetOf(file, tensor) + 4L * index;
        byte[] bytes = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array();
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(at);
            raf.write(bytes);
        }
    }

    /** The absolute file offset of a tensor's first byte. */
    private static long offsetOf(Path file, String tensor) throws IOException {
        long headerLength;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            byte[] prefix = new byte[8];
            raf.readFully(prefix);
            headerLength = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            TensorInfo info = st.info(tensor);
            return 8 + headerLength + info.begin();
        }
    }

    private static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }
}
