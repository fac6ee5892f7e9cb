package dev.dora4j.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates render as transformers' apply_chat_template(add_generation_prompt=True): the expected strings are
 * what Jinja2 with trim_blocks and lstrip_blocks makes of these templates (worked out by hand from the Jinja rules).
 */
class ChatTemplateTest {
    /** SmolLM2-Instruct's ChatML template, as in its tokenizer_config.json. */
    static final String CHATML = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
            + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /** Llama-2-chat's template, as in its tokenizer_config.json (Python's str.strip() included). */
    static final String LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            + "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
            + "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if loop.index0 == 0 and system_message != false %}"
            + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            + "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
            + "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
            + "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    /**
     * Block tags on lines of their own: lstrip_blocks removes their indentation, trim_blocks the newline after
     * them, so only the text lines remain; the source's last newline is dropped (keep_trailing_newline=False).
     */
    static final String INDENTED = """
            {% for m in messages %}
                {% if m['role'] == 'user' %}
            User: {{ m['content'] }}
                {% else %}
            Bot: {{ m['content'] }}
                {% endif %}
            {% endfor %}
            {% if add_generation_prompt %}
            Bot:
            {% endif %}
            """;

    @TempDir
    Path dir;

    @Test
    void chatmlAddsTheDefaultSystemTurnAndOpensTheAssistantTurn() {
        ChatTemplate t = new ChatTemplate(CHATML, Map.of());
        String out = t.render(List.of(Map.of("role", "user", "content", "Hi there")));
        assertThat(out).isEqualTo("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void llama2StripsEachTurnAndSpecialTokensAreInScope() {
        ChatTemplate t = new ChatTemplate(LLAMA2, Map.of("bos_token", "<s>", "eos_token", "</s>"));
        String out = t.render(List.of(Map.of("role", "system", "content", "Be brief."), Map.of("role", "user", "content", " Hello "),
                Map.of("role", "assistant", "content", "Hi!"), Map.of("role", "user", "content", "  Bye\n")));
        assertThat(out).isEqualTo("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hello [/INST] Hi! </s><s>[INST] Bye [/INST]");
    }

    @Test
    void indentedBlockTagsVanishWithTheirLines() {
        ChatTemplate t = new ChatTemplate(INDENTED, Map.of());
        String out = t.render(List.of(Map.of("role", "user", "content", "a"), Map.of("role", "assistant", "content", "b"),
                Map.of("role", "user", "content", "c")));
        assertThat(out).isEqualTo("User: a\nBot: b\nUser: c\nBot:\n");
    }

    @Test
    void raiseExceptionRefusesTheRequestWithTheTemplatesMessage() {
        ChatTemplate t = new ChatTemplate(LLAMA2, Map.of("bos_token", "<s>", "eos_token", "</s>"));
        assertThatThrownBy(() -> t.render(List.of(Map.of("role", "assistant", "content", "first"))))
                .isInstanceOf(ApiError.class).hasMessageContaining("Conversation roles must alternate");
    }

    @Test
    void theTemplateAndSpecialTokensAreReadFromTokenizerConfig() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
                 "chat_template": [{"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}{{ eos_token }}"},
                                   {"name": "tool_use", "template": "x"}]}""");
        assertThat(ChatTemplate.read(dir).render(List.of(Map.of("role", "user", "content", "a")))).isEqualTo("<s>a</s>");
    }

    @Test
    void aModelWithoutTemplateHasNone() throws Exception {
        assertThat(ChatTemplate.read(dir)).isNull();
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        assertThat(ChatTemplate.read(dir)).isNull();
    }
}
