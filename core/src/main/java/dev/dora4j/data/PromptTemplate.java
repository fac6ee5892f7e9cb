package dev.dora4j.data;

/**
 * The Alpaca prompt exactly as LLM-Adapters' {@code finetune.py} ({@code generate_prompt}) writes
 * it, the format of the DoRA paper's commonsense data: including the literal
 * {@code "  # noqa: E501"} after the first sentence and the 16-space indentation of the following
 * lines, which that code's triple-quoted string carries into every prompt.
 */
public final class PromptTemplate {
    private static final String INDENT = " ".repeat(16);

    private PromptTemplate() {}

    /** The full prompt with {@code output} as the response; pass "" for the prompt alone. */
    public static String alpaca(String instruction, String input, String output) {
        StringBuilder s = new StringBuilder();
        if (!input.isEmpty()) {
            s.append("Below is an instruction that describes a task, paired with an input that provides further context. ")
                    .append("Write a response that appropriately completes the request.  # noqa: E501\n\n");
        } else {
            s.append("Below is an instruction that describes a task. ")
                    .append("Write a response that appropriately completes the request.  # noqa: E501\n\n");
        }
        s.append(INDENT).append("### Instruction:\n").append(INDENT).append(instruction).append('\n').append(INDENT).append('\n');
        if (!input.isEmpty()) {
            s.append(INDENT).append("### Input:\n").append(INDENT).append(input).append('\n').append(INDENT).append('\n');
        }
        s.append(INDENT).append("### Response:\n").append(INDENT).append(output);
        return s.toString();
    }
}
