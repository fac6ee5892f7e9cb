package dev.dora4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.tokenizer.Llama2cTokenizer;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.testing.SharedData;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExamplesTest {
    static Tokenizer tok() {
        return Llama2cTokenizer.load(SharedData.file("models/stories260K/tok512.bin"));
    }

    @Test
    void promptTokensAreMaskedAndEosAppended() {
        Tokenizer t = tok();
        Example e = Examples.tokenize(new Record.PromptCompletion("r", "Once upon a time", " there was a cat."), t, 64, false);
        int promptLen = t.encode("Once upon a time", true, false).length;
        assertThat(e.inputIds()[0]).isEqualTo(t.bosId());
        assertThat(e.inputIds()[e.length() - 1]).isEqualTo(t.eosId());
        for (int i = 0; i < promptLen; i++) assertThat(e.labels()[i]).isEqualTo(Examples.IGNORE);
        assertThat(e.labels()[promptLen]).isEqualTo(e.inputIds()[promptLen]);
        Example all = Examples.tokenize(new Record.PromptCompletion("r", "Once upon a time", " there was a cat."), t, 64, true);
        assertThat(all.labels()).isEqualTo(all.inputIds());
    }

    @Test
    void alpacaUsesTheLlmAdaptersTemplate() {
        String p = PromptTemplate.alpaca("Add 2 and 3.", "", "5");
        assertThat(p).isEqualTo("Below is an instruction that describes a task. Write a response that appropriately completes the request.  # noqa: E501\n\n"
                + "                ### Instruction:\n                Add 2 and 3.\n                \n"
                + "                ### Response:\n                5");
        assertThat(PromptTemplate.alpaca("i", "x", "o")).contains("paired with an input").contains("### Input:\n                x\n");
    }

    @Test
    void longRecordsAreTruncatedAndEosIsDroppedThen() {
        Tokenizer t = tok();
        Example e = Examples.tokenize(new Record.PromptCompletion("r", "Once upon a time", " there was a cat who liked to play."), t, 8, false);
        assertThat(e.length()).isEqualTo(8);
        assertThat(e.inputIds()[7]).isNotEqualTo(t.eosId());
    }

    @Test
    void packingCutsTheTextStreamIntoFullSequences() {
        Tokenizer t = tok();
        List<Record> records = List.of(new Record.Text("a", "One day a cat sat."), new Record.PromptCompletion("b", "Hi", " there"),
                new Record.Text("c", "The dog ran to the park and played."));
        List<Example> whole = Examples.tokenize(records, t, Integer.MAX_VALUE, false);
        List<Example> packed = Examples.pack(records, whole, 5);
        int textTokens = whole.get(0).length() + whole.get(2).length();
        assertThat(packed).hasSize((textTokens + 4) / 5 + 1);
        assertThat(packed.get(0).length()).isEqualTo(5);
        assertThat(packed.get(0).labels()).isEqualTo(packed.get(0).inputIds());
        assertThat(packed.getLast()).isSameAs(whole.get(1));
        int[] joined = packed.subList(0, packed.size() - 1).stream().flatMapToInt(x -> java.util.Arrays.stream(x.inputIds())).toArray();
        assertThat(joined).startsWith(whole.get(0).inputIds());
    }
}
