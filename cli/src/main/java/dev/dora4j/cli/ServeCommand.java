package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.model.BundledModel;
import dev.dora4j.serve.DoraServer;
import dev.dora4j.serve.EngineSettings;
import dev.dora4j.serve.ServeOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "OpenAI-compatible HTTP server: one base model and many LoRA/DoRA adapters in mixed batches.")
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH",
            description = "Hugging Face model directory (Llama family, or BERT for embeddings) or llama2.c checkpoint. Default: the bundled stories260K.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "Tokenizer file. Default: found beside the model.")
    Path tokenizer;

    @Option(names = "--adapter", paramLabel = "NAME=DIR", description = "A PEFT LoRA/DoRA adapter served as model NAME (repeatable).")
    List<String> adapters = List.of();

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--served-model-name", paramLabel = "NAME", description = "Name of the base model in requests (default: the model directory's name).")
    String servedModelName;

    @Option(names = "--max-batch-tokens", paramLabel = "N", defaultValue = "512", description = "Tokens per step, decode rows plus prefill chunks (default: ${DEFAULT-VALUE}).")
    int maxBatchTokens;

    @Option(names = "--max-sequences", paramLabel = "N", defaultValue = "64", description = "Sequences decoded together (default: ${DEFAULT-VALUE}).")
    int maxSequences;

    @Option(names = "--max-queue", paramLabel = "N", defaultValue = "256", description = "Requests waiting before 429 (default: ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--kv-cache-mb", paramLabel = "MB", defaultValue = "1024", description = "Bound on the KV cache of all running sequences (default: ${DEFAULT-VALUE}).")
    long kvCacheMb;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "300", description = "Longest a request may take (default: ${DEFAULT-VALUE}).")
    long requestTimeout;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads of the model (default: all cores).")
    Integer threads;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require 'Authorization: Bearer KEY' on /v1 routes.")
    String apiKey;

    @Option(names = "--allow-adapter-loading", description = "Enable POST /v1/load_lora_adapter and /v1/unload_lora_adapter.")
    boolean allowAdapterLoading;

    @Option(names = "--pooling", defaultValue = "mean", description = "Embedding pooling of an encoder: mean or cls (default: ${DEFAULT-VALUE}).")
    String pooling;

    @Override
    public Integer call() throws Exception {
        if (threads != null) dev.dora4j.kernel.Parallel.setThreads(threads);
        Map<String, Path> named = new LinkedHashMap<>();
        for (String a : adapters) {
            int eq = a.indexOf('=');
            if (eq <= 0 || eq == a.length() - 1) throw new DoraException("--adapter '" + a + "': expected NAME=DIR");
            if (named.put(a.substring(0, eq), Path.of(a.substring(eq + 1))) != null) {
                throw new DoraException("--adapter: the name '" + a.substring(0, eq) + "' is given twice");
            }
        }
        EngineSettings engine;
        try {
            engine = new EngineSettings(maxBatchTokens, maxSequences, maxQueue, kvCacheMb << 20, Duration.ofSeconds(requestTimeout));
        } catch (IllegalArgumentException e) {
            throw new DoraException(e.getMessage());
        }
        Path modelPath = model != null ? model : BundledModel.checkpoint();
        ServeOptions options = new ServeOptions(modelPath, tokenizer, named, host, port, apiKey, allowAdapterLoading,
                servedModelName, pooling, engine);
        System.setProperty("org.slf4j.simpleLogger.log.org.eclipse.jetty", "warn");
        DoraServer server = DoraServer.start(options);
        Thread hook = new Thread(() -> {
            System.err.println("stopping: finishing running requests ...");
            try {
                server.stop(requestTimeout * 1000);
            } catch (Exception e) {
                System.err.println("error: while stopping: " + e.getMessage());
            }
        }, "dora4j-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.err.printf("serving %s%s on %s%n", options.baseName(), named.isEmpty() ? "" : " with adapters " + named.keySet(),
                server.baseUrl());
        server.join();
        return 0;
    }
}
