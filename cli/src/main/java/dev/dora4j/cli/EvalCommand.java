package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.data.DatasetReader;
import dev.dora4j.data.Example;
import dev.dora4j.data.Examples;
import dev.dora4j.eval.Evaluator;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Mean cross-entropy over the target tokens of a data file, and perplexity.")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA/DoRA adapter, applied unmerged.")
    Path adapter;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSON or JSONL records.")
    Path data;

    @Option(names = "--seq-len", paramLabel = "N", description = "Truncate sequences to N tokens (default: the model's context).")
    Integer seqLen;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", description = "Sequences scored together (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        LlamaModel model = modelOptions.loadModel();
        if (adapter != null) ModelOptions.attachAdapter(model, adapter);
        List<Example> examples;
        try (Tokenizer tok = modelOptions.loadTokenizer()) {
            int context = model.config().maxPositionEmbeddings();
            int len = Math.min(seqLen != null ? seqLen : context, context);
            Examples.Prepared prepared = Examples.prepare(DatasetReader.read(data), tok, len, false);
            TruncationNote.print(data, prepared, len, seqLen == null || seqLen > context);
            examples = prepared.examples();
        }
        Evaluator.Result r = Evaluator.evaluate(model, examples, batch);
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("loss", r.loss());
            o.put("perplexity", r.perplexity());
            o.put("tokens", r.tokens());
            System.out.println(o);
        } else {
            System.out.printf("loss %.6f  perplexity %.4f  tokens %d%n", r.loss(), r.perplexity(), r.tokens());
        }
        System.err.printf("scored %d examples in %.2f s%n", examples.size(), seconds);
        return 0;
    }
}
