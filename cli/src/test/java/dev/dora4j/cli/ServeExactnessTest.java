package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.serve.DoraServer;
import dev.dora4j.serve.EngineSettings;
import dev.dora4j.serve.ServeOptions;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mixed batches are exact: with four adapters (LoRA and DoRA, ranks 4 to 32) loaded beside the base model, 16
 * greedy requests sent at once, spread over the adapters and the base, each get the tokens that
 * {@code dora4j generate --adapter} produces for that request alone. A small token budget per step makes prompts
 * arrive in chunks while other sequences decode.
 */
class ServeExactnessTest {
    static final String[] PROMPTS = {"Once upon a time", "The little dog", "Lily and Ben went to the park to play with a big red ball",
            "One day", "Tom had a toy car", "The sun was", "She was very happy because her mom gave her a cake", "A bird"};

    @TempDir
    Path tmp;

    @Test
    void sixteenConcurrentGreedyRequestsOnStories260KEqualGenerateAlone() throws Exception {
        checkMixedBatch(ServeFixtures.stories(), 24);
    }

    @Test
    void sixteenConcurrentGreedyRequestsOnATinyRandomLlamaEqualGenerateAlone() throws Exception {
        checkMixedBatch(ServeFixtures.tinyLlama(tmp.resolve("tiny")), 20);
    }

    private void checkMixedBatch(Path model, int maxTokens) throws Exception {
        Map<String, Path> adapters = new LinkedHashMap<>();
        long seed = 100;
        for (var spec : ServeFixtures.FOUR) adapters.put(spec.name(), ServeFixtures.adapter(model, spec, tmp.resolve(spec.name()), seed++));
        List<String> names = new ArrayList<>(List.of("base"));
        names.addAll(adapters.keySet());
        EngineSettings engine = new EngineSettings(8, 16, 64, 64L << 20, Duration.ofMinutes(2));
        ServeOptions options = new ServeOptions(model, null, adapters, "127.0.0.1", 0, null, false, "base", "mean", engine);
        List<String> models = new ArrayList<>();
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            models.add(names.get(i % names.size()));
            prompts.add(PROMPTS[(i * 3) % PROMPTS.length]);
        }
        List<int[]> served = new ArrayList<>();
        try (DoraServer server = DoraServer.start(options)) {
            ExecutorService pool = Executors.newFixedThreadPool(16);
            try {
                List<Future<HttpResponse<String>>> replies = new ArrayList<>();
                CompletableFuture<Void> go = new CompletableFuture<>();
                for (int i = 0; i < 16; i++) {
                    String body = ServeFixtures.JSON.createObjectNode().put("model", models.get(i)).put("prompt", prompts.get(i))
                            .put("max_tokens", maxTokens).put("temperature", 0).put("return_token_ids", true).toString();
                    replies.add(pool.submit(() -> {
                        go.join();
                        return ServeFixtures.post(server.baseUrl() + "/v1/completions", body);
                    }));
                }
                go.complete(null);
                for (var f : replies) {
                    HttpResponse<String> r = f.get(3, TimeUnit.MINUTES);
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    served.add(ids(ServeFixtures.JSON.readTree(r.body()).at("/choices/0/token_ids")));
                }
            } finally {
                pool.shutdownNow();
            }
        }
        int changed = 0, adapted = 0;
        for (int i = 0; i < 16; i++) {
            int[] want = generate(model, prompts.get(i), maxTokens, adapters.get(models.get(i)));
            assertThat(served.get(i)).as("request %d (%s, \"%s\")", i, models.get(i), prompts.get(i)).containsExactly(want);
            if (!models.get(i).equals("base")) {
                adapted++;
                if (!java.util.Arrays.equals(want, generate(model, prompts.get(i), maxTokens, null))) changed++;
            }
        }
        // the adapters change what is generated, so the comparison tells them apart from the base and each other
        assertThat(changed).as("adapted requests whose tokens differ from the base model's").isGreaterThan(adapted / 2);
    }

    /** {@code dora4j generate --json} for one prompt alone: the generated ids. */
    private static int[] generate(Path model, String prompt, int maxTokens, Path adapter) throws Exception {
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--prompt", prompt,
                "--max-new-tokens", Integer.toString(maxTokens), "--temperature", "0", "--json"));
        if (adapter != null) args.addAll(List.of("--adapter", adapter.toString()));
        CliRun alone = CliRun.of(args);
        assertThat(alone.code()).as(alone.err()).isZero();
        return ids(ServeFixtures.JSON.readTree(alone.out()).get("ids"));
    }

    private static int[] ids(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
