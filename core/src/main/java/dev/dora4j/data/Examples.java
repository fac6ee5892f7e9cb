package dev.dora4j.data;

import dev.dora4j.DoraException;
import dev.dora4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns records into token sequences as LLM-Adapters' {@code finetune.py} does: the full text is
 * tokenized with BOS, truncated to the sequence length, and EOS appended when there is room;
 * for prompt/completion and Alpaca records the tokens of the prompt alone are masked with -100
 * unless training on inputs. Plain text gets BOS and no EOS, as a Llama tokenizer encodes it.
 */
public final class Examples {
    public static final int IGNORE = -100;

    private Examples() {}

    /**
     * The examples made from a data file's {@code records}, with how many records were longer than the sequence
     * length and cut to it, and how many of those kept no target token (their prompt alone fills the sequence).
     */
    public record Prepared(List<Example> examples, int records, int truncated, int truncatedWithoutTargets) {}

    public static List<Example> tokenize(List<Record> records, Tokenizer tokenizer, int seqLen, boolean trainOnInputs) {
        return prepare(records, tokenizer, seqLen, trainOnInputs).examples();
    }

    /** {@link #tokenize(List, Tokenizer, int, boolean)}, counting the records that truncation cut. */
    public static Prepared prepare(List<Record> records, Tokenizer tokenizer, int seqLen, boolean trainOnInputs) {
        List<Example> out = new ArrayList<>(records.size());
        int truncated = 0, withoutTargets = 0;
        for (Record r : records) {
            boolean[] cut = new boolean[1];
            Example e = tokenize(r, tokenizer, seqLen, trainOnInputs, cut);
            if (cut[0]) {
                truncated++;
                if (e.targetCount() == 0) withoutTargets++;
            }
            out.add(e);
        }
        return new Prepared(out, records.size(), truncated, withoutTargets);
    }

    public static Example tokenize(Record record, Tokenizer tokenizer, int seqLen, boolean trainOnInputs) {
        return tokenize(record, tokenizer, seqLen, trainOnInputs, new boolean[1]);
    }

    /** Sets {@code cut[0]} when the record's tokens were more than {@code seqLen}. */
    private static Example tokenize(Record record, Tokenizer tokenizer, int seqLen, boolean trainOnInputs, boolean[] cut) {
        if (seqLen < 2) throw new IllegalArgumentException("sequence length must be at least 2, got " + seqLen);
        return switch (record) {
            case Record.Text t -> {
                int[] all = tokenizer.encode(t.text(), true, false);
                cut[0] = all.length > seqLen;
                int[] ids = truncate(all, seqLen);
                yield new Example(t.source(), ids, ids.clone());
            }
            case Record.PromptCompletion pc -> promptAndResponse(pc.source(), pc.prompt(), pc.prompt() + pc.completion(),
                    tokenizer, seqLen, trainOnInputs, cut);
            case Record.Alpaca a -> promptAndResponse(a.source(), PromptTemplate.alpaca(a.instruction(), a.input(), ""),
                    PromptTemplate.alpaca(a.instruction(), a.input(), a.output()), tokenizer, seqLen, trainOnInputs, cut);
            case Record.Tokenized tk -> {
                for (int id : tk.inputIds()) {
                    if (id >= tokenizer.vocabSize()) {
                        throw new DoraException(tk.source() + ": token id " + id + " is outside the vocabulary of " + tokenizer.vocabSize());
                    }
                }
                cut[0] = tk.inputIds().length > seqLen;
                yield new Example(tk.source(), truncate(tk.inputIds(), seqLen), truncate(tk.labels(), seqLen));
            }
        };
    }

    private static Example promptAndResponse(String source, String prompt, String full, Tokenizer tokenizer, int seqLen,
            boolean trainOnInputs, boolean[] cut) {
        int[] all = tokenizer.encode(full, true, false);
        cut[0] = all.length > seqLen;
        int[] ids = truncate(all, seqLen);
        int eos = tokenizer.eosId();
        if (eos >= 0 && ids.length < seqLen && ids[ids.length - 1] != eos) {
            ids = Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = eos;
        }
        int[] labels = ids.clone();
        if (!trainOnInputs) {
            int promptLen = Math.min(truncate(tokenizer.encode(prompt, true, false), seqLen).length, labels.length);
            Arrays.fill(labels, 0, promptLen, IGNORE);
        }
        return new Example(source, ids, labels);
    }

    /**
     * Packs plain-text examples as transformers' {@code group_texts} does: their tokens concatenated in
     * order and cut into sequences of exactly {@code seqLen} (the remainder kept as a shorter last
     * one), every token a target. Examples of other kinds are kept as they are, after the packed ones.
     */
    public static List<Example> pack(List<Record> records, List<Example> examples, int seqLen) {
        List<Example> out = new ArrayList<>();
        List<Example> others = new ArrayList<>();
        int total = 0;
        for (int i = 0; i < examples.size(); i++) {
            if (records.get(i) instanceof Record.Text) total += examples.get(i).length();
            else others.add(examples.get(i));
        }
        int[] stream = new int[total];
        int at = 0;
        String first = null;
        for (int i = 0; i < examples.size(); i++) {
            if (!(records.get(i) instanceof Record.Text)) continue;
            if (first == null) first = examples.get(i).source();
            int[] ids = examples.get(i).inputIds();
            System.arraycopy(ids, 0, stream, at, ids.length);
            at += ids.length;
        }
        for (int start = 0; start < total; start += seqLen) {
            int[] ids = Arrays.copyOfRange(stream, start, Math.min(total, start + seqLen));
            if (ids.length < 2) break;
            out.add(new Example("packed text from " + first + " (tokens " + start + "..)", ids, ids.clone()));
        }
        out.addAll(others);
        return out;
    }

    private static int[] truncate(int[] ids, int seqLen) {
        return ids.length <= seqLen ? ids : Arrays.copyOf(ids, seqLen);
    }
}
