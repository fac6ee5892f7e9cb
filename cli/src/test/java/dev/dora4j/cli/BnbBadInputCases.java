package dev.dora4j.cli;

import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.TensorInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The bitsandbytes rows of docs/bad-inputs.md: a copy of core's bnb fixture {@code llama_nf4_dq} (tiny Llama, NF4,
 * blocks of 64, double quantisation) with one tensor or its quant_state JSON made wrong.
 */
final class BnbBadInputCases {
    private static final Path CHECKPOINT = Path.of("..", "core", "src", "test", "resources", "fixtures", "bnb", "llama_nf4_dq");
    private static final String Q = "model.layers.0.self_attn.q_proj.weight";
    private static final String STATE = Q + ".quant_state.bitsandbytes__nf4";
    private static final String EVAL = "eval --model {case}/model --data {root}/data.jsonl";
    private static final String FILE = "{case}/model/model.safetensors: tensor '";

    private BnbBadInputCases() {}

    static Stream<BadInputCliTest.Case> cases() {
        return Stream.of(
                new BadInputCliTest.Case("bitsandbytes", "4-bit weight whose packed size does not fit its shape", dir -> {
                    Path model = copyCheckpoint(dir);
                    replace(model, "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.weight", "U8",
                            new long[] {767, 1}, new byte[767]);
                    return EVAL;
                }, FILE + "model.layers.0.mlp.up_proj.weight' holds 767 packed bytes, which does not fit shape [48, 32]"
                        + " (4 bits a value: 768 bytes)"),
                state("quant_state JSON whose shape lies", "\"shape\": [32, 32]", "\"shape\": [32, 16]",
                        FILE + STATE + "' says shape [32,16] but config.json implies [32, 32]"),
                state("quant_state JSON whose blocksize lies", "\"blocksize\": 64", "\"blocksize\": 128",
                        FILE + Q + ".absmax' has 16 values but blocksize 128 over shape [32, 32] makes 8 blocks"),
                state("quant_state JSON whose dtype is not a float type", "\"dtype\": \"float32\"", "\"dtype\": \"int8\"",
                        FILE + STATE + "' says dtype \"int8\", which is not float32, float16 or bfloat16"),
                state("a blocksize bitsandbytes does not allow", "\"blocksize\": 64", "\"blocksize\": 48",
                        FILE + STATE + "' says blocksize 48, which bitsandbytes does not allow [32, 64, 128, 256, 512,"
                                + " 1024, 2048, 4096]"),
                new BadInputCliTest.Case("bitsandbytes", "an unknown quant_type", dir -> {
                    Path model = copyCheckpoint(dir);
                    String json = stateJson(model).replace("\"nf4\"", "\"int4\"");
                    replace(model, STATE, Q + ".quant_state.bitsandbytes__int4", "U8", new long[] {json.length()},
                            json.getBytes(StandardCharsets.UTF_8));
                    return EVAL;
                }, FILE + Q + ".quant_state.bitsandbytes__int4' names quant_type 'int4', which is not nf4 or fp4"),
                new BadInputCliTest.Case("bitsandbytes", "a checkpoint quantised by another method (GPTQ)", dir -> {
                    Path model = copyCheckpoint(dir);
                    String config = Files.readString(model.resolve("config.json"));
                    Files.writeString(model.resolve("config.json"),
                            config.replace("\"quant_method\": \"bitsandbytes\"", "\"quant_method\": \"gptq\""));
                    return EVAL;
                }, "{case}/model/config.json: quantization_config: quant_method 'gptq' is not supported; dora4j reads"
                        + " bitsandbytes checkpoints (load_in_4bit nf4/fp4, load_in_8bit) and unquantised F32/F16/BF16 models"));
    }

    private static BadInputCliTest.Case state(String input, String from, String to, String expected) {
        return new BadInputCliTest.Case("bitsandbytes", input, dir -> {
            Path model = copyCheckpoint(dir);
            String json = stateJson(model);
            if (!json.contains(from)) throw new AssertionError(json + " lacks " + from);
            byte[] bytes = json.replace(from, to).getBytes(StandardCharsets.UTF_8);
            replace(model, STATE, STATE, "U8", new long[] {bytes.length}, bytes);
            return EVAL;
        }, expected);
    }

    private static Path copyCheckpoint(Path dir) throws IOException {
        Path model = Files.createDirectories(dir.resolve("model"));
        for (String f : List.of("config.json", "model.safetensors")) Files.copy(CHECKPOINT.resolve(f), model.resolve(f));
        return model;
    }

    private static String stateJson(Path model) {
        try (SafetensorsFile st = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            return new String(st.data(STATE).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    /** Rewrites model.safetensors with tensor {@code name} replaced by {@code newName} holding {@code bytes}. */
    private static void replace(Path model, String name, String newName, String dtype, long[] shape, byte[] bytes) {
        Path file = model.resolve("model.safetensors");
        SafetensorsWriter out = new SafetensorsWriter();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (TensorInfo t : st.tensors()) {
                if (t.name().equals(name)) out.addRaw(newName, dtype, shape, MemorySegment.ofArray(bytes));
                else out.addRaw(t.name(), t.dtypeName(), t.shape(), st.data(t.name()));
            }
            out.metadata(st.metadata());
            out.write(file.resolveSibling("rewritten.safetensors"));
        }
        try {
            Files.move(file.resolveSibling("rewritten.safetensors"), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
