package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.ModelMerge;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merge PEFT adapters into a Hugging Face model directory; several at once as PEFT merges several active adapters.")
final class MergeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model directory.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR",
            description = "PEFT adapter directory; repeat to merge several, each change taken from the base weights.")
    List<Path> adapters;

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
        ModelMerge.Summary s = ModelMerge.merge(model, adapters, out, base, outDtype);
        String what = adapters.size() == 1 ? (s.dora() ? "DoRA" : "LoRA") + " adapter"
                : adapters.size() + " adapters" + (s.dora() ? " (DoRA among them)" : "");
        System.err.printf("merged %s into %d weights, copied %d tensors and %d files in %.1f s%n", what, s.mergedWeights(),
                s.copiedTensors(), s.copiedFiles(), (System.nanoTime() - start) / 1e9);
        System.out.println(out);
        return 0;
    }
}
