package dev.dora4j.serve;

import dev.dora4j.DoraException;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.ModelRegistry;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * {@code dora4j serve}: one base model (a causal LM, or a BERT-family encoder for embeddings) and its adapters
 * behind an OpenAI-compatible HTTP API on Jetty. {@link #stop} finishes running requests before closing.
 */
public final class DoraServer implements AutoCloseable {
    private final ServeOptions options;
    private final Tokenizer tokenizer;
    private final Engine engine;
    private final Server jetty;
    private final ServerConnector connector;
    private final ServedModels models;

    private DoraServer(ServeOptions options, CausalLM preloaded, Tokenizer preloadedTokenizer) throws Exception {
        this.options = options;
        Path dir = options.model();
        ServeMetrics metrics = new ServeMetrics();
        this.tokenizer = preloadedTokenizer != null ? preloadedTokenizer : Tokenizers.load(dir, options.tokenizer());
        EncoderService encoder = null;
        CompletionsEndpoint completions = null;
        if (preloaded != null || ModelRegistry.isCausalLM(dir)) {
            CausalLM model = preloaded != null ? preloaded : ModelRegistry.causalLM(dir);
            this.engine = new Engine(model, options.engine(), metrics);
            this.models = new ServedModels(options.baseName(), model, null);
            ChatTemplate template = preloaded == null && Files.isDirectory(dir) ? ChatTemplate.read(dir) : null;
            completions = new CompletionsEndpoint(engine, tokenizer, models, template);
        } else {
            this.engine = null;
            encoder = new EncoderService(dir, tokenizer, options.pooling());
            this.models = new ServedModels(options.baseName(), null, encoder);
        }
        for (var e : options.adapters().entrySet()) {
            try {
                models.load(e.getKey(), e.getValue());
            } catch (ApiError error) {
                throw new DoraException("--adapter " + e.getKey() + "=" + e.getValue() + ": " + error.getMessage());
            }
        }
        QueuedThreadPool threads = new QueuedThreadPool(256, 8);
        threads.setName("dora4j-http");
        this.jetty = new Server(threads);
        this.connector = new ServerConnector(jetty);
        connector.setHost(options.host());
        connector.setPort(options.port());
        connector.setIdleTimeout(options.engine().requestTimeout().toMillis() + 30_000);
        jetty.addConnector(connector);
        jetty.setHandler(new ApiHandler(options, models, completions, encoder, metrics));
        jetty.setStopTimeout(5_000);
    }

    /** Loads the model and adapters and starts listening. */
    public static DoraServer start(ServeOptions options) throws Exception {
        return start(options, null, null);
    }

    /** Serves {@code model} with {@code tokenizer} as given (benchmarks on random weights); {@code options.model()} only names it. */
    public static DoraServer start(ServeOptions options, CausalLM model, Tokenizer tokenizer) throws Exception {
        DoraServer server = new DoraServer(options, model, tokenizer);
        try {
            server.jetty.start();
        } catch (Exception e) {
            server.close();
            throw new DoraException(options.host() + ":" + options.port() + ": cannot listen: " + e.getMessage(), e);
        }
        return server;
    }

    /** The port listened on (the chosen one when started with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    public String baseUrl() {
        return "http://" + options.host() + ":" + port();
    }

    /** Graceful stop: new requests are refused, running ones finish (up to {@code graceMillis}), then everything closes. */
    public void stop(long graceMillis) throws Exception {
        if (engine != null) engine.drain(graceMillis);
        close();
    }

    /** Blocks until the server has stopped. */
    public void join() throws InterruptedException {
        jetty.join();
    }

    @Override
    public void close() throws Exception {
        try {
            jetty.stop();
        } finally {
            if (engine != null) engine.close();
            tokenizer.close();
        }
    }
}
