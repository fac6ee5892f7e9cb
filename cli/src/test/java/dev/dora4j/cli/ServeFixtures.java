package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.LlamaWriter;
import dev.dora4j.model.ModelRegistry;
import dev.dora4j.model.RandomModels;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.tensor.DType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Models and adapters for the server's tests: stories260K from the shared data, a tiny random Llama, PEFT adapters. */
final class ServeFixtures {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private ServeFixtures() {}

    /** ../shared/data/{relative}, looked up from the working directory and its parent; missing is a failure. */
    static Path shared(String relative) {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve("../shared/data").resolve(relative).normalize();
            if (Files.exists(p)) return p;
        }
        throw new AssertionError("shared data file missing: ../shared/data/" + relative);
    }

    static Path stories() {
        return shared("models/stories260K/stories260K.bin");
    }

    /**
     * A random Llama directory (Qwen2-style q/k/v biases, grouped-query attention, untied head) with weights of
     * standard deviation 0.1 so greedy choices are clear, and stories260K's 512-token tokenizer.
     */
    static Path tinyLlama(Path dir) throws Exception {
        Files.createDirectories(dir);
        LlamaConfig c = LlamaConfig.parse(JSON.readTree("""
                {"model_type": "llama", "vocab_size": 512, "hidden_size": 48, "intermediate_size": 96,
                 "num_hidden_layers": 2, "num_attention_heads": 6, "num_key_value_heads": 2,
                 "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "attention_bias": true,
                 "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}"""), "tiny-llama");
        var model = RandomModels.llama(c, 7);
        Random r = new Random(11);
        for (var e : model.namedTensors().entrySet()) {
            float[] d = e.getValue().data();
            if (e.getKey().endsWith(".bias")) for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian() * 0.1f;
            else if (!e.getKey().endsWith("norm.weight")) for (int i = 0; i < d.length; i++) d[i] *= 5f;
        }
        LlamaWriter.writeFiles(model, dir, DType.F32);
        Files.copy(shared("models/stories260K/tok512.bin"), dir.resolve("tokenizer.bin"));
        return dir;
    }

    /** One adapter to write: a name, LoRA or DoRA, its rank and target modules. */
    record AdapterSpec(String name, boolean dora, int rank, List<String> targets) {}

    /** The four adapters of the mixed-batch tests: LoRA and DoRA, ranks 4 to 32, different targets. */
    static final List<AdapterSpec> FOUR = List.of(
            new AdapterSpec("lora-r4", false, 4, List.of("q_proj", "v_proj")),
            new AdapterSpec("dora-r8", true, 8, List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
            new AdapterSpec("lora-r16", false, 16, List.of("gate_proj", "up_proj", "down_proj")),
            new AdapterSpec("dora-r32", true, 32, List.of("k_proj", "o_proj", "down_proj")));

    /** Writes {@code spec} for the model at {@code model} into {@code dir}: random A, B and magnitude as training leaves them. */
    static Path adapter(Path model, AdapterSpec spec, Path dir, long seed) {
        CausalLM m = ModelRegistry.causalLM(model);
        AdapterConfig config = AdapterConfig.create(spec.rank(), 2f * spec.rank(), 0f, spec.targets(), spec.dora(), false,
                "CAUSAL_LM", model.getFileName().toString());
        Map<String, Adapter> adapters = AdapterInjector.inject(m.linears(), config, m.outputHead(), seed);
        Random r = new Random(seed);
        for (Adapter adapter : adapters.values()) {
            LoraAdapter a = (LoraAdapter) adapter;
            float[] b = a.loraB().data();
            for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian() * 0.05f;
            if (a.isDora()) {
                float[] mag = a.magnitude().data();
                for (int i = 0; i < mag.length; i++) mag[i] *= 1f + 0.2f * (float) r.nextGaussian();
            }
        }
        for (Linear l : m.linears().values()) l.adapter(null);
        AdapterFiles.write(dir, config, adapters);
        return dir;
    }

    static HttpResponse<String> post(String url, String json) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
