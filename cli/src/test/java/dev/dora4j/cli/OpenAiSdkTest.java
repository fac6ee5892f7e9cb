package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.dora4j.model.BertLoader;
import dev.dora4j.model.BertModel;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.serve.DoraServer;
import dev.dora4j.serve.EngineSettings;
import dev.dora4j.serve.ServeOptions;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official OpenAI Java SDK against the server: completions, chat (with the model's chat template), streaming of
 * both, and embeddings of a BERT encoder with and without an adapter, which equal {@code dora4j embed}'s.
 */
class OpenAiSdkTest {
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
            + " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    static final EngineSettings ENGINE = new EngineSettings(32, 8, 16, 64L << 20, Duration.ofMinutes(2));

    @TempDir
    Path tmp;

    static OpenAIClient client(DoraServer server, String key) {
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(key).maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
    }

    @Test
    void completionsChatAndStreamingThroughTheSdk() throws Exception {
        Path model = ServeFixtures.tinyLlama(tmp.resolve("tiny"));
        Files.writeString(model.resolve("tokenizer_config.json"),
                ServeFixtures.JSON.createObjectNode().put("chat_template", CHATML).put("eos_token", "</s>").toString());
        Path adapter = ServeFixtures.adapter(model, ServeFixtures.FOUR.get(1), tmp.resolve("dora"), 5);
        ServeOptions options = new ServeOptions(model, null, Map.of("dora", adapter), "127.0.0.1", 0, "test-key", false, "tiny",
                "mean", ENGINE);
        try (DoraServer server = DoraServer.start(options)) {
            OpenAIClient client = client(server, "test-key");
            assertThat(client.models().list().data().stream().map(m -> m.id()).toList()).containsExactly("tiny", "dora");

            CompletionCreateParams completion = CompletionCreateParams.builder().model("dora").prompt("Once upon a time")
                    .maxTokens(12).temperature(0.0).build();
            Completion c = client.completions().create(completion);
            CliRun alone = CliRun.of("generate", "--model", model.toString(), "--adapter", adapter.toString(), "--prompt",
                    "Once upon a time", "--max-new-tokens", "12", "--temperature", "0", "--json");
            assertThat(c.choices().getFirst().text()).isEqualTo(ServeFixtures.JSON.readTree(alone.out()).get("text").asText());
            assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(12);
            String streamed;
            try (StreamResponse<Completion> s = client.completions().createStreaming(completion)) {
                streamed = s.stream().map(x -> x.choices().isEmpty() ? "" : x.choices().getFirst().text()).collect(Collectors.joining());
            }
            assertThat(streamed).isEqualTo(c.choices().getFirst().text());

            ChatCompletionCreateParams chat = ChatCompletionCreateParams.builder().model("tiny").addUserMessage("Hello there")
                    .maxCompletionTokens(10).temperature(0.0).build();
            ChatCompletion cc = client.chat().completions().create(chat);
            String rendered = "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n";
            try (Tokenizer tok = Tokenizers.load(model, null)) {
                assertThat(cc.usage().orElseThrow().promptTokens()).isEqualTo(tok.encode(rendered, false, false).length);
            }
            assertThat(cc.choices().getFirst().finishReason().asString()).isIn("length", "stop");
            String chatText = cc.choices().getFirst().message().content().orElseThrow();
            String chatStreamed;
            try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat)) {
                chatStreamed = s.stream().flatMap(x -> x.choices().stream()).map(ch -> ch.delta().content().orElse(""))
                        .collect(Collectors.joining());
            }
            assertThat(chatStreamed).isEqualTo(chatText);
        }
    }

    @Test
    void embeddingsThroughTheSdkEqualDora4jEmbed() throws Exception {
        Path model = tmp.resolve("minilm");
        CliRun converted = CliRun.of("convert", "--onnx", ConvertOnnxCliTest.jar().toString(), "--out", model.toString());
        assertThat(converted.code()).as(converted.err()).isZero();
        BertModel bert = BertLoader.load(model);
        AdapterConfig config = AdapterConfig.create(8, 16, 0, List.of("query", "value"), true, false, "FEATURE_EXTRACTION", "minilm");
        Map<String, Adapter> adapters = AdapterInjector.inject(bert.linears(), config, null, 1);
        Random random = new Random(3);
        for (Adapter adapter : adapters.values()) {
            LoraAdapter a = (LoraAdapter) adapter;
            float[] b = a.loraB().data();
            for (int i = 0; i < b.length; i++) b[i] = (float) random.nextGaussian() * 0.05f;
        }
        Path adapter = tmp.resolve("adapter");
        AdapterFiles.write(adapter, config, adapters);
        List<String> texts = List.of("How tall is the Sears Building ?", "What is the height of the Sears Tower ?");
        ServeOptions options = new ServeOptions(model, null, Map.of("dora", adapter), "127.0.0.1", 0, null, false, "minilm",
                "mean", ENGINE);
        try (DoraServer server = DoraServer.start(options)) {
            OpenAIClient client = client(server, "unused");
            for (String name : List.of("minilm", "dora")) {
                CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model(name)
                        .inputOfArrayOfStrings(texts).build());
                List<String> args = new java.util.ArrayList<>(List.of("embed", "--model", model.toString(), "--json",
                        "--text", texts.get(0), "--text", texts.get(1)));
                if (name.equals("dora")) args.addAll(List.of("--adapter", adapter.toString()));
                float[][] want = EmbedCommandTest.embeddings(CliRun.of(args));
                for (int i = 0; i < texts.size(); i++) {
                    List<Float> got = r.data().get(i).embedding();
                    assertThat(got).as("%s text %d", name, i).hasSize(want[i].length);
                    for (int j = 0; j < want[i].length; j++) assertThat(got.get(j)).as("%s text %d dim %d", name, i, j).isEqualTo(want[i][j]);
                }
            }
        }
    }
}
