package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code bench --json} on a tiny Llama config: the fields the speed comparison reads, and parameter accounting. */
class BenchCommandTest {
    @TempDir
    static Path tmp;

    private static Path config() throws Exception {
        return config("tiny.json", 32, 48, 2, 4, 2, 64);
    }

    private static Path config(String name, int hidden, int ff, int layers, int heads, int kvHeads, int vocab)
            throws Exception {
        Path c = tmp.resolve(name);
        Files.writeString(c, """
                {"model_type": "llama", "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d,
                 "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
                 "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "tie_word_embeddings": false, "hidden_act": "silu"}
                """.formatted(hidden, ff, layers, heads, kvHeads, vocab));
        return c;
    }

    // per layer, r = 4: q 4·(32+32) + 32, k and v 4·(32+16) + 16, o as q, gate and up 4·(32+48) + 48, down 4·(48+32) + 32
    // (the last term of each is DoRA's magnitude); 2 layers. All parameters: embeddings and head 2·64·32, final norm 32,
    // per layer q 32·32, k and v 16·32, o 32·32, gate, up and down 48·32, two norms 2·32.
    @ParameterizedTest(name = "{0}")
    @CsvSource({"dora, 4160, 16, 4", "lora, 3712, 16, 4", "full, 19616, 16, 0"})
    void jsonReportsSpeedMemoryAndParameters(String method, long trainable, double bytesTrainable, double bytesFrozen)
            throws Exception {
        CliRun r = CliRun.of("bench", "--config", config().toString(), "--method", method, "--rank", "4", "--alpha", "8",
                "--batch", "2", "--seq-len", "16", "--steps", "3", "--warmup", "1", "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("method").asText()).isEqualTo(method);
        assertThat(o.get("trainable_params").asLong()).isEqualTo(trainable);
        assertThat(o.get("total_params").asLong()).isEqualTo(19616);
        assertThat(o.get("bytes_per_trainable_param").asDouble()).isEqualTo(bytesTrainable);
        assertThat(o.get("bytes_per_frozen_param").asDouble()).isEqualTo(bytesFrozen);
        assertThat(o.get("step_s").size()).isEqualTo(3);
        assertThat(o.get("step_jit_ms").size()).isEqualTo(3);
        assertThat(o.get("step_gc_cycles").size()).isEqualTo(3);
        for (JsonNode v : o.get("step_gc_cycles")) assertThat(v.asLong()).isNotNegative();
        // HotSpot reports its compilation time; none of it runs backwards
        for (JsonNode v : o.get("step_jit_ms")) assertThat(v.asLong()).isNotNegative();
        double median = o.get("step_s_median").asDouble();
        assertThat(median).isPositive();
        assertThat(o.get("tokens_per_s").asDouble()).isCloseTo(32 / median, within(1e-6 * 32 / median));
        assertThat(o.get("gflops_per_s").asDouble()).isPositive();
        assertThat(o.get("peak_rss_mb").asDouble()).isPositive();
        assertThat(o.get("peak_heap_mb").asDouble()).isPositive();
        assertThat(o.get("fraction_of_peak").asDouble()).isCloseTo(o.get("gflops_per_s").asDouble()
                / o.get("fma_peak_gflops").asDouble(), within(1e-9));
        for (String key : new String[] {"train_flops", "fraction_of_peak", "peak_live_heap_mb",
                "soft_max_heap_mb"}) {
            assertThat(o.has(key)).as(key).isTrue();
        }
    }

    @Test
    void profileListsTheAdapterOps() throws Exception {
        CliRun r = CliRun.of("bench", "--config", config().toString(), "--method", "dora", "--batch", "1",
                "--seq-len", "8", "--steps", "1", "--warmup", "0", "--threads", "1", "--profile", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode p = new ObjectMapper().readTree(r.out()).get("profile_s_per_step");
        assertThat(p.has("dora forward")).isTrue();
        assertThat(p.has("dora backward")).isTrue();
        assertThat(p.has("cross_entropy backward")).isTrue();
    }

    /** A BF16 random model: every matrix two bytes a value (norms stay F32: 5·32 of 19616 frozen values). */
    @Test
    void bf16ModelKeepsTwoBytesPerFrozenParameter() throws Exception {
        CliRun r = CliRun.of("bench", "--config", config().toString(), "--method", "dora", "--rank", "4", "--batch", "1",
                "--seq-len", "8", "--steps", "1", "--warmup", "0", "--threads", "1", "--dtype", "bf16", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("dtype").asText()).isEqualTo("BF16");
        assertThat(o.get("quantize").isNull()).isTrue();
        assertThat(o.get("bytes_per_frozen_param").asDouble()).isEqualTo((2.0 * (19616 - 160) + 4.0 * 160) / 19616);
    }

    @Test
    void badStorageNamesAreRefusedInOneLine() throws Exception {
        CliRun dtype = CliRun.of("bench", "--config", config().toString(), "--dtype", "f8");
        assertThat(dtype.code()).isEqualTo(1);
        assertThat(dtype.err()).contains("--dtype: unknown storage 'f8'");
        CliRun both = CliRun.of("bench", "--config", config().toString(), "--dtype", "nf4");
        assertThat(both.err()).contains("--dtype must be f32, bf16 or f16");
    }

    /** A model whose weights cannot fit in the heap is refused before anything is allocated, with what to change. */
    @Test
    void modelLargerThanTheHeapIsRefusedWithAdvice() throws Exception {
        Path huge = config("huge.json", 8192, 28672, 80, 64, 8, 128256);
        CliRun r = CliRun.of("bench", "--config", huge.toString(), "--batch", "1", "--seq-len", "8");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("not enough memory: the weights of huge.json as F32 need")
                .contains("--quantize nf4").contains("DORA4J_JAVA_OPTS=-Xmx");
        assertThat(r.err().strip().lines().count()).isEqualTo(1);
    }

    @Test
    void peakMeasuresFmaAndGemmRates() throws Exception {
        CliRun r = CliRun.of("bench", "--peak", "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        double fma = o.get("fma_peak_gflops_1_thread").asDouble(), gemm = o.get("gemm_gflops_1_thread").asDouble();
        assertThat(fma).isPositive();
        assertThat(gemm).isPositive();
        assertThat(o.get("vector_bits").asInt()).isIn(64, 128, 256, 512);
        CliRun missing = CliRun.of("bench");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("bench needs --config FILE (or --peak)");
    }

    @Test
    void decodeMeasuresEveryStorageEachRound() throws Exception {
        CliRun r = CliRun.of("bench", "--config", config().toString(), "--decode", "4", "--storages", "f32,bf16,int8",
                "--rounds", "2", "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode s = new ObjectMapper().readTree(r.out()).get("storages");
        assertThat(s.size()).isEqualTo(3);
        for (String name : new String[] {"f32", "bf16", "int8"}) {
            assertThat(s.get(name).get("tokens_per_s").size()).isEqualTo(2);
            for (JsonNode v : s.get(name).get("tokens_per_s")) assertThat(v.asDouble()).isPositive();
        }
        assertThat(s.get("f32").get("ratio_to_first").get(0).asDouble()).isEqualTo(1.0);
        assertThat(s.get("bf16").get("weight_bytes").asLong()).isLessThan(s.get("f32").get("weight_bytes").asLong());
        CliRun bad = CliRun.of("bench", "--config", config().toString(), "--decode", "4", "--storages", "q3");
        assertThat(bad.err()).contains("--storages: 'q3' is none of");
    }

    @Test
    void compareStoragesAlternatesTrainingStepsOfEachStorage() throws Exception {
        CliRun r = CliRun.of("bench", "--config", config().toString(), "--compare-storages", "--storages", "f32,bf16,nf4",
                "--batch", "1", "--seq-len", "8", "--warmup", "1", "--steps", "2", "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode s = new ObjectMapper().readTree(r.out()).get("storages");
        assertThat(s.size()).isEqualTo(3);
        for (String name : new String[] {"f32", "bf16", "nf4"}) {
            assertThat(s.get(name).get("step_s").size()).isEqualTo(2);
            for (JsonNode v : s.get(name).get("step_s")) assertThat(v.asDouble()).isPositive();
            // each round: a step in order and one in reverse order, the round's time their mean
            JsonNode taken = s.get(name).get("steps_s_as_taken");
            assertThat(taken.size()).isEqualTo(2);
            for (int i = 0; i < 2; i++) {
                assertThat(taken.get(i).size()).isEqualTo(2);
                assertThat(s.get(name).get("step_s").get(i).asDouble())
                        .isEqualTo((taken.get(i).get(0).asDouble() + taken.get(i).get(1).asDouble()) / 2);
            }
        }
        assertThat(s.get("f32").get("ratio_to_first").get(1).asDouble()).isEqualTo(1.0);
        CliRun bad = CliRun.of("bench", "--config", config().toString(), "--compare-storages", "--storages", "f32,q3");
        assertThat(bad.err()).contains("--storages: 'q3' is none of");
        CliRun full = CliRun.of("bench", "--config", config().toString(), "--compare-storages", "--storages", "f32,nf4",
                "--method", "full");
        assertThat(full.code()).isEqualTo(1);
        assertThat(full.err()).contains("--method full trains every weight");
    }

    @Test
    void compareMethodsAlternatesTrainingStepsOfEachMethod() throws Exception {
        CliRun r = CliRun.of("bench", "--config", config().toString(), "--compare-methods", "lora,dora", "--batch", "1",
                "--seq-len", "8", "--warmup", "1", "--steps", "2", "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode m = new ObjectMapper().readTree(r.out()).get("methods");
        assertThat(m.size()).isEqualTo(2);
        for (String name : new String[] {"lora", "dora"}) {
            assertThat(m.get(name).get("step_s").size()).isEqualTo(2);
            for (JsonNode v : m.get(name).get("step_s")) assertThat(v.asDouble()).isPositive();
        }
        assertThat(m.get("dora").get("ratio_to_first").get(0).asDouble())
                .isEqualTo(m.get("dora").get("step_s").get(0).asDouble() / m.get("lora").get("step_s").get(0).asDouble());
        assertThat(new ObjectMapper().readTree(r.out()).has("profile_s_per_step")).isFalse();

        // --profile: each method's adapter ops under its own name, next to the ops the models share
        CliRun profiled = CliRun.of("bench", "--config", config().toString(), "--compare-methods", "lora,dora", "--batch",
                "1", "--seq-len", "8", "--warmup", "1", "--steps", "2", "--threads", "1", "--profile", "--json");
        assertThat(profiled.code()).as(profiled.err()).isZero();
        JsonNode ops = new ObjectMapper().readTree(profiled.out()).get("profile_s_per_step");
        for (String op : new String[] {"lora forward", "lora backward", "dora forward", "dora backward", "attention forward"}) {
            assertThat(ops.get(op)).as(op).isNotNull();
            assertThat(ops.get(op).asDouble()).as(op).isPositive();
        }
        CliRun bad = CliRun.of("bench", "--config", config().toString(), "--compare-methods", "lora,qlora");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains("--compare-methods: no method 'qlora'");
        CliRun full = CliRun.of("bench", "--config", config().toString(), "--compare-methods", "lora,full",
                "--quantize", "nf4");
        assertThat(full.code()).isEqualTo(1);
        assertThat(full.err()).contains("full trains every weight");
    }
}
