package dev.dora4j.data;

import dev.dora4j.DoraException;
import dev.dora4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.HashMap;

/** Tokenizes classification records and maps their labels to class indices. */
public final class ClassificationData {
    /** The examples, how many records there were and how many were cut to the maximum length. */
    public record Prepared(List<ClassificationExample> examples, int records, int truncated) {}

    private ClassificationData() {}

    /**
     * The label set of a training file in class-index order: numerically when every label is an integer (SST-2's 0 and 1),
     * otherwise in string order (TREC's ABBR, DESC, ENTY, HUM, LOC, NUM).
     */
    public static List<String> labelsOf(List<LabeledText> records) {
        TreeSet<String> set = new TreeSet<>();
        for (LabeledText t : records) set.add(t.label());
        List<String> labels = new ArrayList<>(set);
        if (labels.stream().allMatch(ClassificationData::isInteger)) labels.sort(Comparator.comparingLong(Long::parseLong));
        return labels;
    }

    private static boolean isInteger(String s) {
        try {
            Long.parseLong(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * Token ids as BERT reads a single sentence, {@code [CLS] tokens [SEP]}, cut to {@code maxLength} ids in all (the
     * tokens are cut, the special tokens kept, as transformers' truncation does); labels by their index in {@code labels}.
     */
    public static Prepared prepare(List<LabeledText> records, Tokenizer tokenizer, int maxLength, List<String> labels) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < labels.size(); i++) index.put(labels.get(i), i);
        int specials = (tokenizer.bosId() >= 0 ? 1 : 0) + (tokenizer.eosId() >= 0 ? 1 : 0);
        if (maxLength <= specials) throw new IllegalArgumentException("maximum length " + maxLength + " leaves no room for text");
        List<ClassificationExample> out = new ArrayList<>(records.size());
        int truncated = 0;
        for (LabeledText t : records) {
            Integer label = index.get(t.label());
            if (label == null) {
                throw new DoraException(t.source() + ": label '" + t.label() + "' is not one of the training labels " + labels);
            }
            int[] tokens = tokenizer.encode(t.text(), false, false);
            int keep = Math.min(tokens.length, maxLength - specials);
            if (keep < tokens.length) truncated++;
            int[] ids = new int[keep + specials];
            int n = 0;
            if (tokenizer.bosId() >= 0) ids[n++] = tokenizer.bosId();
            System.arraycopy(tokens, 0, ids, n, keep);
            n += keep;
            if (tokenizer.eosId() >= 0) ids[n] = tokenizer.eosId();
            out.add(new ClassificationExample(t.source(), ids, label));
        }
        return new Prepared(out, records.size(), truncated);
    }
}
