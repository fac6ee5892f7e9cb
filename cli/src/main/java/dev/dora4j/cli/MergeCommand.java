package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.LinearStorage;
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

    @Option(names = "--dtype", paramLabel = "f32|bf16|f16",
            description = "Type of the merged and dequantised linear weights (default: each weight's own; for a"
                    + " bitsandbytes model the bnb_4bit_compute_dtype of its quantization_config).")
    String dtype;

    @Option(names = "--quantize", paramLabel = "nf4|fp4|int8",
            description = "The adapter was trained with --quantize: merge into the weights it saw (each block linear"
                    + " quantised and dequantised); the output stays unquantised.")
    String quantize;

    @Option(names = "--double-quant", description = "With --quantize nf4|fp4: as trained with --double-quant.")
    boolean doubleQuant;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        LinearStorage base;
        WeightStorage outDtype;
        try {
            base = LinearStorage.parse(null, quantize, doubleQuant);
            outDtype = LinearStorage.parse(dtype, null, false).storage();
        } catch (IllegalArgumentException e) {
            throw new DoraException(e.getMessage());
        }
        ModelMerge.Summary s = ModelMerge.merge(model, adapter, out, base, outDtype);
        System.err.printf("merged %s adapter into %d weights, copied %d tensors and %d files in %.1f s%n",
                s.dora() ? "DoRA" : "LoRA", s.mergedWeights(), s.copiedTensors(), s.copiedFiles(),
                (System.nanoTime() - start) / 1e9);
        System.out.println(out);
        return 0;
    }
}
