package dev.dora4j.tokenizer;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ScratchTest {
    @Test
    void run() {
        var v = GgmlVocabVectors.load("ggml-vocab-bert-bge");
        long t0 = System.nanoTime();
        try (var t = HfTokenizer.load(TestData.file("minilm/all-minilm-l6-v2-tokenizer.json"))) {
        System.out.println("load ms " + (System.nanoTime() - t0) / 1e6 + " vocab " + t.vocabSize() + " bos " + t.bosId() + " eos " + t.eosId() + " addBos " + t.addBosByDefault());
        int ok = 0;
        for (int i = 0; i < v.size(); i++) {
            int[] got = t.encode(v.inputs().get(i), false, false);
            String dec = t.decode(got);
            if (Arrays.equals(got, v.expected().get(i))) { ok++; System.out.println("ok " + i + " dec=[" + dec.replace("\n","\\n") + "]"); continue; }
            System.out.println(i + " [" + v.inputs().get(i).replace("\n", "\\n").replace("\t", "\\t") + "]");
            System.out.println("  exp " + Arrays.toString(v.expected().get(i)));
            System.out.println("  got " + Arrays.toString(got));
        }
        System.out.println("MATCH " + ok + "/" + v.size());
        System.out.println(Arrays.toString(t.encode("Hello world", true, true)));
        }
    }
}
