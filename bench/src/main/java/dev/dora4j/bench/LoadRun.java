package dev.dora4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.serve.DoraServer;
import dev.dora4j.serve.EngineSettings;
import dev.dora4j.serve.ServeOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A load run against a bounded server on 127.0.0.1: --requests completion requests from --concurrency clients that
 * never wait between requests, against a server of --max-sequences running and --max-queue waiting. Counts answers
 * by status (only 200 and 429 are clean), samples the resident set size every 100 ms, and reports latency
 * percentiles of the answered requests. Usage: {@code java --add-modules jdk.incubator.vector -cp
 * bench/target/benchmarks.jar dev.dora4j.bench.LoadRun [--model DIR|FILE] [--requests 5000] [--concurrency 64]
 * [--max-sequences 16] [--max-queue 16] [--max-tokens 16] [--honour-retry-after true|false]}: with false, rejected
 * clients send their next request at once. Prints one JSON document.
 */
public final class LoadRun {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = options(args);
        Path model = Path.of(a.getOrDefault("--model", "../shared/data/models/stories260K/stories260K.bin"));
        int requests = Integer.parseInt(a.getOrDefault("--requests", "5000"));
        int concurrency = Integer.parseInt(a.getOrDefault("--concurrency", "64"));
        int maxSequences = Integer.parseInt(a.getOrDefault("--max-sequences", "16"));
        int maxQueue = Integer.parseInt(a.getOrDefault("--max-queue", "16"));
        int maxTokens = Integer.parseInt(a.getOrDefault("--max-tokens", "16"));
        boolean honourRetry = Boolean.parseBoolean(a.getOrDefault("--honour-retry-after", "true"));
        EngineSettings engine = new EngineSettings(256, maxSequences, maxQueue, 256L << 20, Duration.ofMinutes(2));
        ObjectMapper json = new ObjectMapper();
        Map<Integer, AtomicInteger> byStatus = new ConcurrentHashMap<>();
        long[] latencyNanos = new long[requests];
        AtomicInteger next = new AtomicInteger(), okCount = new AtomicInteger();
        AtomicLong rssMax = new AtomicLong(), failures = new AtomicLong();
        long rssStart;
        double seconds;
        try (DoraServer server = DoraServer.start(new ServeOptions(model, null, Map.of(), "127.0.0.1", 0, null, false, "m", "mean", engine))) {
            rssStart = rssBytes();
            Thread sampler = Thread.ofPlatform().daemon(true).start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    rssMax.accumulateAndGet(rssBytes(), Math::max);
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            HttpClient http = HttpClient.newBuilder().executor(Executors.newFixedThreadPool(8)).build();
            String[] prompts = {"Once upon a time", "The little dog", "Lily went to the park", "One day, a girl"};
            ExecutorService clients = Executors.newFixedThreadPool(concurrency);
            long start = System.nanoTime();
            for (int c = 0; c < concurrency; c++) {
                clients.submit(() -> {
                    for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                        String body = json.createObjectNode().put("model", "m").put("prompt", prompts[i % prompts.length])
                                .put("max_tokens", maxTokens).put("temperature", 0.8).put("seed", i).toString();
                        HttpRequest req = HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                                .timeout(Duration.ofMinutes(2)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
                        long t0 = System.nanoTime();
                        try {
                            HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
                            byStatus.computeIfAbsent(r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
                            if (r.statusCode() == 200) latencyNanos[okCount.getAndIncrement()] = System.nanoTime() - t0;
                            // a client that honours Retry-After, as the OpenAI SDKs do (with --honour-retry-after true)
                            if (r.statusCode() == 429 && honourRetry) {
                                Thread.sleep(1000L * Long.parseLong(r.headers().firstValue("Retry-After").orElse("1")));
                            }
                        } catch (Exception e) {
                            failures.incrementAndGet();
                        }
                    }
                    return null;
                });
            }
            clients.shutdown();
            if (!clients.awaitTermination(60, TimeUnit.MINUTES)) throw new IllegalStateException("load run did not finish");
            seconds = (System.nanoTime() - start) / 1e9;
            sampler.interrupt();
        }
        long[] ok = Arrays.copyOf(latencyNanos, okCount.get());
        Arrays.sort(ok);
        ObjectNode out = json.createObjectNode();
        out.put("model", model.toString()).put("requests", requests).put("concurrency", concurrency)
                .put("max_sequences", maxSequences).put("max_queue", maxQueue).put("max_tokens", maxTokens)
                .put("honour_retry_after", honourRetry).put("wall_seconds", seconds).put("connection_failures", failures.get());
        ObjectNode statuses = out.putObject("status_counts");
        Map<Integer, AtomicInteger> sorted = new java.util.TreeMap<>(byStatus);
        sorted.forEach((k, v) -> statuses.put(Integer.toString(k), v.get()));
        ObjectNode lat = out.putObject("latency_ms_of_200s");
        for (double p : new double[] {0.5, 0.9, 0.99, 1.0}) {
            lat.put(p == 1.0 ? "max" : "p" + Math.round(p * 100), ok.length == 0 ? 0 : ok[Math.min(ok.length - 1, (int) (p * ok.length))] / 1e6);
        }
        out.put("rss_mb_at_start", rssStart >> 20).put("rss_mb_max", rssMax.get() >> 20);
        System.out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(out));
        System.exit(0);
    }

    /** {@code --key value} pairs. */
    static Map<String, String> options(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
            m.put(args[i], args[i + 1]);
        }
        return m;
    }

    /** VmRSS of this process from /proc/self/status, 0 where there is none. */
    static long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (Exception e) {
            return 0;
        }
        return 0;
    }
}
