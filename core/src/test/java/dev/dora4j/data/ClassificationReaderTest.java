package dev.dora4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.testing.SharedData;
import dev.dora4j.tokenizer.HfTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassificationReaderTest {
    @TempDir
    Path tmp;

    private Path write(String name, String content) throws Exception {
        Path f = tmp.resolve(name);
        Files.writeString(f, content, StandardCharsets.UTF_8);
        return f;
    }

    @Test
    void readsJsonLinesWithStringAndIntegerLabels() throws Exception {
        Path f = write("d.jsonl", "{\"text\": \"good film\", \"label\": 1}\n\n{\"text\": \"bad\", \"label\": \"0\"}\n"
                + "{\"sentence\": \"fine\", \"label\": \"pos\"}\n");
        List<LabeledText> r = ClassificationReader.read(f, false);
        assertThat(r).extracting(LabeledText::text).containsExactly("good film", "bad", "fine");
        assertThat(r).extracting(LabeledText::label).containsExactly("1", "0", "pos");
        assertThat(r.get(1).source()).isEqualTo(f + ":3");
    }

    @Test
    void readsAJsonArray() throws Exception {
        Path f = write("d.json", "[{\"text\": \"a\", \"label\": 2}, {\"text\": \"b\", \"label\": 0}]");
        assertThat(ClassificationReader.read(f, false)).extracting(LabeledText::label).containsExactly("2", "0");
    }

    @Test
    void readsCsvWithQuotedFieldsAndTsvWithAHeader() throws Exception {
        Path csv = write("d.csv", "label,text\n1,\"a, \"\"quoted\"\" text\"\n0,plain\r\n");
        List<LabeledText> r = ClassificationReader.read(csv, false);
        assertThat(r).extracting(LabeledText::text).containsExactly("a, \"quoted\" text", "plain");
        assertThat(r).extracting(LabeledText::label).containsExactly("1", "0");
        Path tsv = write("dev.tsv", "sentence\tlabel\nthe expressive power \t1\nwell-conceived \t1\n");
        assertThat(ClassificationReader.read(tsv, false)).extracting(LabeledText::text)
                .containsExactly("the expressive power", "well-conceived");
    }

    @Test
    void readsLabelFirstLinesAndCoarseTrecLabels() throws Exception {
        Path sst = write("stsa.binary.dev", "1 a stirring , funny film\n0 apparently reassembled .\n");
        assertThat(ClassificationReader.read(sst, false)).extracting(LabeledText::label).containsExactly("1", "0");
        Path trec = write("TREC.test", "NUM:dist How far is it from Denver to Aspen ?\nLOC:city What county is Modesto in ?\n");
        assertThat(ClassificationReader.read(trec, true)).extracting(LabeledText::label).containsExactly("NUM", "LOC");
        assertThat(ClassificationReader.read(trec, false)).extracting(LabeledText::label).containsExactly("NUM:dist", "LOC:city");
        assertThat(ClassificationReader.read(trec, true).getFirst().text()).isEqualTo("How far is it from Denver to Aspen ?");
    }

    @Test
    void lineFilesThatAreNotUtf8AreReadAsLatin1() throws Exception {
        Path f = tmp.resolve("TREC.train");
        Files.write(f, "HUM:ind Who was Ren\u00e9 ?\n".getBytes(StandardCharsets.ISO_8859_1));
        assertThat(ClassificationReader.read(f, true).getFirst().text()).isEqualTo("Who was Ren\u00e9 ?");
    }

    @Test
    void malformedInputNamesFileAndLine() throws Exception {
        Path f = write("bad.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n");
        assertThatThrownBy(() -> ClassificationReader.read(f, false)).isInstanceOf(DoraException.class)
                .hasMessage(f + ":2: missing key 'label'");
        Path g = write("bad2.jsonl", "{\"text\": \"a\", \"label\": 1.5}\n");
        assertThatThrownBy(() -> ClassificationReader.read(g, false)).hasMessage(g + ":1: key 'label' must be a string or an integer");
        Path h = write("bad3.jsonl", "{\"text\": \"a\", \n");
        assertThatThrownBy(() -> ClassificationReader.read(h, false)).hasMessageStartingWith(h + ":1: not valid JSON");
        Path csv = write("bad.csv", "text,label\na,1\nb,2,3\n");
        assertThatThrownBy(() -> ClassificationReader.read(csv, false)).hasMessage(csv + ":3: 3 fields but the header has 2");
        Path noHeader = write("nh.tsv", "a\t1\n");
        assertThatThrownBy(() -> ClassificationReader.read(noHeader, false)).hasMessageContaining("needs a 'text'");
        Path lines = write("stsa.x", "1 fine\nlonely\n");
        assertThatThrownBy(() -> ClassificationReader.read(lines, false)).hasMessage(lines + ":2: expected '<label> <text>', found one word");
        Path empty = write("e.jsonl", "\n\n");
        assertThatThrownBy(() -> ClassificationReader.read(empty, false)).hasMessage(empty + ": holds no records");
        assertThatThrownBy(() -> ClassificationReader.read(tmp.resolve("missing.jsonl"), false)).hasMessageEndingWith("data file not found");
    }

    @Test
    void realFilesParseWithTheirDocumentedSizes() {
        assertThat(ClassificationReader.read(SharedData.file("classification/sst2-sentence/stsa.binary.train"), false)).hasSize(6920);
        List<LabeledText> trec = ClassificationReader.read(SharedData.file("classification/trec/TREC.train"), true);
        assertThat(trec).hasSize(5452);
        assertThat(ClassificationData.labelsOf(trec)).containsExactly("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM");
        assertThat(ClassificationReader.read(SharedData.file("classification/sst2-glue/dev.tsv"), false)).hasSize(6735);
    }

    @Test
    void labelsSortNumericallyWhenIntegers() {
        List<LabeledText> r = List.of(new LabeledText("a", "x", "10"), new LabeledText("b", "y", "2"), new LabeledText("c", "z", "2"));
        assertThat(ClassificationData.labelsOf(r)).containsExactly("2", "10");
    }

    @Test
    void preparedExamplesAreClsTextSepCutToTheMaximumLength() {
        try (HfTokenizer tok = HfTokenizer.load(SharedData.file("minilm/all-minilm-l6-v2-tokenizer.json"))) {
            List<LabeledText> r = List.of(new LabeledText("a", "hello world", "pos"),
                    new LabeledText("b", "one two three four five six seven", "neg"));
            var p = ClassificationData.prepare(r, tok, 5, List.of("neg", "pos"));
            // [CLS] = 101, [SEP] = 102 in the BERT uncased vocabulary; hello = 7592, world = 2088
            assertThat(p.examples().get(0).inputIds()).containsExactly(101, 7592, 2088, 102);
            assertThat(p.examples().get(0).label()).isEqualTo(1);
            assertThat(p.examples().get(1).inputIds()).hasSize(5);
            assertThat(p.examples().get(1).inputIds()[4]).isEqualTo(102);
            assertThat(p.truncated()).isEqualTo(1);
            assertThatThrownBy(() -> ClassificationData.prepare(List.of(new LabeledText("f:3", "x", "other")), tok, 8,
                    List.of("neg", "pos"))).hasMessage("f:3: label 'other' is not one of the training labels [neg, pos]");
        }
    }
}
