package dev.dora4j.cli;

import dev.dora4j.model.ModelMerge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merge a LoRA/DoRA adapter (PEFT format) into a Hugging Face model directory.")
final class MergeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model directory.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "PEFT adapter directory.")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output model directory (written atomically).")
    Path out;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        ModelMerge.Summary s = ModelMerge.merge(model, adapter, out);
        System.err.printf("merged %s adapter into %d weights, copied %d tensors and %d files in %.1f s%n",
                s.dora() ? "DoRA" : "LoRA", s.mergedWeights(), s.copiedTensors(), s.copiedFiles(),
                (System.nanoTime() - start) / 1e9);
        System.out.println(out);
        return 0;
    }
}
