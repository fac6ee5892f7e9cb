package dev.dora4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads sequence-classification data: texts with labels. The format follows the file:
 * <ul>
 *   <li>{@code .jsonl} / {@code .json}: records {@code {"text": ..., "label": ...}} (a label is a string or an integer;
 *       {@code "sentence"} is accepted for {@code "text"}, as GLUE names it);</li>
 *   <li>{@code .csv} / {@code .tsv}: a header line naming a {@code text} (or {@code sentence}) column and a
 *       {@code label} column; CSV fields may be quoted with {@code "} and {@code ""} inside;</li>
 *   <li>any other name: one record per line, {@code <label> <text>}, as in SST-2's {@code stsa.binary.*} and TREC's
 *       {@code TREC.train} ({@code DESC:manner How did ...?}). With {@code coarse}, a label {@code A:b} is read as
 *       {@code A} (TREC's six coarse classes).</li>
 * </ul>
 * Line formats that are not valid UTF-8 are read as ISO-8859-1 (TREC's files are). Every malformed line is
 * reported with its file and line number.
 */
public final class ClassificationReader {
    private ClassificationReader() {}

    public static List<LabeledText> read(Path file, boolean coarse) {
        if (!Files.isRegularFile(file)) throw new DoraException(file + ": data file not found");
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        List<LabeledText> out;
        if (name.endsWith(".jsonl") || name.endsWith(".json")) {
            out = readJson(file, text(file, false));
        } else if (name.endsWith(".csv") || name.endsWith(".tsv")) {
            out = readTable(file, text(file, false), name.endsWith(".tsv") ? '\t' : ',');
        } else {
            out = readLines(file, text(file, true));
        }
        if (out.isEmpty()) throw new DoraException(file + ": holds no records");
        if (coarse) {
            List<LabeledText> c = new ArrayList<>(out.size());
            for (LabeledText t : out) {
                int colon = t.label().indexOf(':');
                c.add(colon < 0 ? t : new LabeledText(t.source(), t.text(), t.label().substring(0, colon)));
            }
            out = c;
        }
        return out;
    }

    private static String text(Path file, boolean latin1Fallback) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            if (!latin1Fallback) throw new DoraException(file + ": not valid UTF-8 text");
            s = new String(bytes, StandardCharsets.ISO_8859_1);
        }
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }

    private static List<LabeledText> readLines(Path file, String content) {
        List<LabeledText> out = new ArrayList<>();
        int n = 0;
        for (String line : content.split("\r?\n", -1)) {
            n++;
            if (line.isBlank()) continue;
            String trimmed = line.strip();
            int space = indexOfWhitespace(trimmed);
            if (space < 0) throw new DoraException(file + ":" + n + ": expected '<label> <text>', found one word");
            String text = trimmed.substring(space + 1).strip();
            if (text.isEmpty()) throw new DoraException(file + ":" + n + ": the text after the label is empty");
            out.add(new LabeledText(file + ":" + n, text, trimmed.substring(0, space)));
        }
        return out;
    }

    private static int indexOfWhitespace(String s) {
        for (int i = 0; i < s.length(); i++) if (Character.isWhitespace(s.charAt(i))) return i;
        return -1;
    }

    private static List<LabeledText> readJson(Path file, String content) {
        return DatasetReader.records(file, content, ClassificationReader::record);
    }

    private static LabeledText record(JsonNode node, String where) {
        if (node == null || !node.isObject()) throw new DoraException(where + ": a record must be a JSON object");
        JsonNode text = node.has("text") ? node.get("text") : node.get("sentence");
        if (text == null || text.isNull()) throw new DoraException(where + ": missing key 'text'");
        if (!text.isTextual()) throw new DoraException(where + ": key 'text' must be a string");
        JsonNode label = node.get("label");
        if (label == null || label.isNull()) throw new DoraException(where + ": missing key 'label'");
        String l;
        if (label.isTextual()) l = label.asText();
        else if (label.isIntegralNumber() && label.canConvertToInt()) l = Integer.toString(label.asInt());
        else if (label.isBoolean()) l = label.asBoolean() ? "1" : "0";
        else throw new DoraException(where + ": key 'label' must be a string or an integer");
        if (l.isBlank()) throw new DoraException(where + ": key 'label' is empty");
        return new LabeledText(where, text.asText(), l);
    }

    private static List<LabeledText> readTable(Path file, String content, char sep) {
        List<List<String>> rows = parseTable(file, content, sep);
        if (rows.isEmpty()) throw new DoraException(file + ": holds no header line");
        List<String> header = rows.getFirst().subList(0, rows.getFirst().size() - 1);
        int textCol = -1, labelCol = -1;
        for (int i = 0; i < header.size(); i++) {
            String h = header.get(i).strip().toLowerCase(Locale.ROOT);
            if (textCol < 0 && (h.equals("text") || h.equals("sentence"))) textCol = i;
            if (labelCol < 0 && h.equals("label")) labelCol = i;
        }
        if (textCol < 0 || labelCol < 0) {
            throw new DoraException(file + ":1: the header " + header + " needs a 'text' (or 'sentence') and a 'label' column");
        }
        List<LabeledText> out = new ArrayList<>();
        for (int r = 1; r < rows.size(); r++) {
            List<String> row = rows.get(r);
            String where = file + ":" + row.getLast();
            int fields = row.size() - 1;
            if (fields == 1 && row.getFirst().isBlank()) continue;
            if (fields != header.size()) {
                throw new DoraException(where + ": " + fields + " fields but the header has " + header.size());
            }
            String label = row.get(labelCol).strip();
            if (label.isEmpty()) throw new DoraException(where + ": the label is empty");
            out.add(new LabeledText(where, row.get(textCol).strip(), label));
        }
        return out;
    }

    /** Rows of fields, each row ending with its line number (as a string) for messages. */
    private static List<List<String>> parseTable(Path file, String s, char sep) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1, rowLine = 1;
        boolean quoted = false, any = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < s.length() && s.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    if (c == '\n') line++;
                    field.append(c);
                }
            } else if (c == '"' && field.isEmpty() && sep == ',') {
                quoted = true;
                any = true;
            } else if (c == sep) {
                row.add(field.toString());
                field.setLength(0);
                any = true;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') i++;
                row.add(field.toString());
                row.add(Integer.toString(rowLine));
                rows.add(row);
                row = new ArrayList<>();
                field.setLength(0);
                any = false;
                line++;
                rowLine = line;
            } else {
                field.append(c);
                any = true;
            }
        }
        if (quoted) throw new DoraException(file + ":" + rowLine + ": a quoted field is not closed");
        if (any || !field.isEmpty()) {
            row.add(field.toString());
            row.add(Integer.toString(rowLine));
            rows.add(row);
        }
        return rows;
    }
}
