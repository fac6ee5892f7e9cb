package dev.dora4j.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * The server's metrics in Prometheus text format (through Micrometer): queue length, running sequences, tokens
 * generated and read, requests by outcome, and histograms of time to first token, per-token latency and step time.
 */
public final class ServeMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter generated, prompt;
    private final Timer firstToken, perToken, stepTime, queueWait;

    public ServeMetrics() {
        generated = Counter.builder("dora4j_generation_tokens").description("Tokens generated").register(registry);
        prompt = Counter.builder("dora4j_prompt_tokens").description("Prompt tokens read (prefill)").register(registry);
        firstToken = histogram("dora4j_time_to_first_token", "From arrival to the first generated token");
        perToken = histogram("dora4j_time_per_output_token", "Between consecutive generated tokens of a sequence");
        stepTime = histogram("dora4j_step", "One decode step of the whole batch");
        queueWait = histogram("dora4j_queue_wait", "From arrival to joining the running batch");
    }

    private Timer histogram(String name, String description) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(2)).register(registry);
    }

    void gauges(IntSupplier waiting, IntSupplier running) {
        Gauge.builder("dora4j_requests_waiting", waiting, s -> s.getAsInt()).description("Requests in the queue").strongReference(true).register(registry);
        Gauge.builder("dora4j_requests_running", running, s -> s.getAsInt()).description("Sequences in the running batch").strongReference(true).register(registry);
    }

    void step(int promptRows, int sampled, long nanos) {
        generated.increment(sampled);
        prompt.increment(promptRows);
        stepTime.record(nanos, TimeUnit.NANOSECONDS);
    }

    void timeToFirstToken(long nanos) {
        firstToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    void interTokenLatency(long nanos) {
        perToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    void queueWait(long nanos) {
        queueWait.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Counts a finished request by HTTP status. */
    void request(String endpoint, int status) {
        registry.counter("dora4j_requests", "endpoint", endpoint, "status", Integer.toString(status)).increment();
    }

    /** The Prometheus text exposition. */
    String scrape() {
        return registry.scrape();
    }
}
