package dev.dora4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.RandomModels;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.serve.DoraServer;
import dev.dora4j.serve.EngineSettings;
import dev.dora4j.serve.ServeBenchmark;
import dev.dora4j.serve.ServeOptions;
import dev.dora4j.serve.ServedAdapter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Serving throughput on a random-weight model from an HF config.json (traffic to 127.0.0.1 only):
 * <ul>
 * <li>aggregate tokens/s of N concurrent completion requests through the HTTP server, for each N of --concurrency,
 * and the pure decode rate of the engine's step at N rows;</li>
 * <li>time per decode step of a batch of --mix-rows rows: base alone, all rows on one DoRA adapter, rows over four
 * adapters (LoRA and DoRA, ranks 8-64).</li>
 * </ul>
 * Usage: {@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.dora4j.bench.ServeBench
 * --config FILE [--dtype f32|bf16] [--concurrency 1,4,16,64] [--max-tokens 8] [--prompt-tokens 8] [--mix-rows 16]
 * [--steps 5] [--steps-per-round 5] [--warmup 10]} ({@code --concurrency none} for the step comparison alone;
 * {@code --warmup}: untimed steps first, which the mixed-adapter path needs to be compiled; the step comparison reports
 * {@code --steps} rounds, each the mean of {@code --steps-per-round} steps of each composition taken in turn, and the
 * median step). Run it with the launcher's heap settings ({@code -XX:+UseZGC -XX:SoftMaxHeapSize=2g}): without a soft
 * limit ZGC keeps growing the heap into untouched memory, and the page faults slow every step (a 6 GB heap: steps
 * 1.5-2.5x slower after the first few seconds). Prints one JSON document.
 */
public final class ServeBench {
    static final List<String> ALL = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public static void main(String[] args) throws Exception {
        Map<String, String> a = LoadRun.options(args);
        Path config = Path.of(a.getOrDefault("--config", "../shared/bench/configs/base.json"));
        WeightStorage dtype = WeightStorage.valueOf(a.getOrDefault("--dtype", "f32").toUpperCase());
        int[] levels = Arrays.stream(a.getOrDefault("--concurrency", "1,4,16,64").split(",")).filter(x -> !x.isBlank() && !x.equals("none"))
                .mapToInt(Integer::parseInt).toArray();
        int maxTokens = Integer.parseInt(a.getOrDefault("--max-tokens", "8"));
        int promptTokens = Integer.parseInt(a.getOrDefault("--prompt-tokens", "8"));
        int mixRows = Integer.parseInt(a.getOrDefault("--mix-rows", "16"));
        int steps = Integer.parseInt(a.getOrDefault("--steps", "5"));
        int warmup = Integer.parseInt(a.getOrDefault("--warmup", "10"));
        int perRound = Integer.parseInt(a.getOrDefault("--steps-per-round", "5"));
        ObjectMapper json = new ObjectMapper();
        LlamaConfig c = LlamaConfig.read(config);
        long t0 = System.nanoTime();
        CausalLM model = RandomModels.llama(c, 1, dtype, LinearStorage.AS_STORED);
        ObjectNode out = json.createObjectNode();
        out.put("config", config.toString()).put("dtype", dtype.name()).put("threads", dev.dora4j.kernel.Parallel.threads())
                .put("load_seconds", (System.nanoTime() - t0) / 1e9);

        ServedAdapter one = ServedAdapter.random("dora-r16", model, config(16, true, ALL), 1);
        List<ServedAdapter> four = List.of(ServedAdapter.random("lora-r8", model, config(8, false, List.of("q_proj", "v_proj")), 2),
                ServedAdapter.random("dora-r16", model, config(16, true, ALL), 3),
                ServedAdapter.random("lora-r32", model, config(32, false, ALL), 4),
                ServedAdapter.random("dora-r64", model, config(64, true, List.of("q_proj", "k_proj", "v_proj", "o_proj")), 5));
        // the three compositions in turn, one step of each per round, after warm-up rounds that compile the code paths
        // (the compositions alternate step by step; a round is the mean of --steps-per-round consecutive steps)
        List<ServeBenchmark.StepTimes> times = ServeBenchmark.interleavedSteps(model,
                List.of(java.util.Collections.singletonList(null), List.of(one), four), mixRows, warmup, steps * perRound, 7);
        double[][] rounds = new double[3][steps];
        for (int k = 0; k < 3; k++) {
            for (int s = 0; s < steps * perRound; s++) rounds[k][s / perRound] += times.get(k).seconds()[s] / perRound;
        }
        double base = times.get(0).median(), single = times.get(1).median(), mixed = times.get(2).median();
        ObjectNode mix = out.putObject("step_seconds_at_" + mixRows + "_rows");
        mix.put("base", base).put("one_dora_r16_adapter", single).put("four_adapters_lora_dora_r8_to_r64", mixed)
                .put("mixed_over_one", mixed / single).put("mixed_over_base", mixed / base).put("rounds", steps)
                .put("steps_per_round", perRound).put("warmup_steps", warmup);
        // every round's ratios of mean step times, the compositions' steps taken in turn
        ArrayNode roundList = mix.putArray("per_round");
        for (int r = 0; r < steps; r++) {
            double b = rounds[0][r], o = rounds[1][r], m = rounds[2][r];
            roundList.addObject().put("base", b).put("one", o).put("mixed", m).put("mixed_over_one", m / o)
                    .put("mixed_over_base", m / b);
        }

        ArrayNode rates = out.putArray("concurrency");
        try (DoraServer server = DoraServer.start(new ServeOptions(config, null, Map.of(), "127.0.0.1", 0, null, false, "random",
                "mean", new EngineSettings(512, 64, 256, 8L << 30, Duration.ofMinutes(30))), model, new IdTokenizer(c.vocabSize()))) {
            HttpClient http = HttpClient.newHttpClient();
            SplittableRandom rng = new SplittableRandom(5);
            for (int n : levels) {
                double step = ServeBenchmark.decodeSteps(model, java.util.Collections.singletonList(null), n, 1, Math.max(2, steps / 2), 9).median();
                ExecutorService pool = Executors.newFixedThreadPool(n);
                List<Future<HttpResponse<String>>> replies = new ArrayList<>();
                long start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    ArrayNode prompt = json.createArrayNode();
                    for (int t = 0; t < promptTokens; t++) prompt.add(rng.nextInt(c.vocabSize()));
                    ObjectNode body = json.createObjectNode().put("model", "random").put("max_tokens", maxTokens).put("temperature", 0);
                    body.set("prompt", prompt);
                    HttpRequest req = HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                            .timeout(Duration.ofMinutes(30)).POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
                    replies.add(pool.submit(() -> http.send(req, HttpResponse.BodyHandlers.ofString())));
                }
                long tokens = 0;
                for (var f : replies) {
                    HttpResponse<String> r = f.get(30, TimeUnit.MINUTES);
                    if (r.statusCode() != 200) throw new IllegalStateException("request failed: " + r.body());
                    JsonNode usage = json.readTree(r.body()).get("usage");
                    tokens += usage.get("completion_tokens").asLong();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                pool.shutdownNow();
                rates.addObject().put("requests", n).put("generated_tokens", tokens).put("wall_seconds", seconds)
                        .put("http_tokens_per_second", tokens / seconds).put("decode_step_seconds", step)
                        .put("decode_tokens_per_second", n / step);
                System.err.printf("concurrency %d: %.2f tokens/s over HTTP (prompt %d + %d tokens each), decode step %.3f s%n", n,
                        tokens / seconds, promptTokens, maxTokens, step);
            }
        }
        System.out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(out));
        System.exit(0);
    }

    static AdapterConfig config(int rank, boolean dora, List<String> targets) {
        return AdapterConfig.create(rank, 2f * rank, 0f, targets, dora, false, "CAUSAL_LM", "random");
    }
}
