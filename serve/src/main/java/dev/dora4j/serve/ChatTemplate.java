package dev.dora4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template ({@code chat_template} of {@code tokenizer_config.json}) rendered as transformers'
 * {@code apply_chat_template(messages, add_generation_prompt=True)} renders it: Jinja with {@code trim_blocks} and
 * {@code lstrip_blocks}, the special tokens ({@code bos_token}, {@code eos_token}, ...) and {@code raise_exception}
 * in scope, a single trailing newline dropped.
 */
final class ChatTemplate {
    static final String CONFIG_FILE = "tokenizer_config.json";
    private static final List<String> SPECIAL_TOKENS = List.of("bos_token", "eos_token", "unk_token", "pad_token");

    private final String template;
    private final Map<String, Object> specialTokens;
    private final Jinjava jinja;

    ChatTemplate(String template, Map<String, Object> specialTokens) {
        // Jinja2 (keep_trailing_newline=False) drops one newline at the end of the template source
        this.template = template.endsWith("\n") ? template.substring(0, template.length() - 1) : template;
        this.specialTokens = Map.copyOf(specialTokens);
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withKeepTrailingNewline(true).withFailOnUnknownTokens(false).build());
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
    }

    /**
     * The template beside the model ({@code dir/tokenizer_config.json}), or null when the model has none. A
     * template given as a list of named templates yields the one named "default".
     */
    static ChatTemplate read(Path dir) {
        Path file = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) return null;
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        JsonNode t = root.get("chat_template");
        String template = null;
        if (t != null && t.isTextual()) template = t.asText();
        if (t != null && t.isArray()) {
            for (JsonNode named : t) if ("default".equals(named.path("name").asText())) template = named.path("template").asText();
        }
        if (template == null) return null;
        Map<String, Object> special = new HashMap<>();
        for (String key : SPECIAL_TOKENS) {
            JsonNode v = root.get(key);
            if (v != null && v.isTextual()) special.put(key, v.asText());
            if (v != null && v.isObject() && v.path("content").isTextual()) special.put(key, v.path("content").asText());
        }
        return new ChatTemplate(template, special);
    }

    /** The prompt text for {@code messages} (each with "role" and "content"), ending with the assistant's turn opened. */
    String render(List<Map<String, Object>> messages) {
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.put("messages", messages);
        context.put("add_generation_prompt", true);
        RenderResult result = jinja.renderForResult(template, context);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                for (Throwable c = e.getException(); c != null; c = c.getCause()) if (c instanceof ApiError raised) throw raised;
                throw ApiError.invalid("messages", "the chat template cannot render these messages: " + e.getMessage());
            }
        }
        return result.getOutput();
    }

    /** The template's {@code raise_exception(message)}: the request is refused with that message. */
    public static String raiseException(String message) {
        throw ApiError.invalid("messages", message);
    }
}
