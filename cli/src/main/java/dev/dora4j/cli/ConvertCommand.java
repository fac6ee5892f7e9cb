package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.model.Llama2cLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.model.LlamaWriter;
import dev.dora4j.model.OnnxBertConfig;
import dev.dora4j.model.OnnxBertImporter;
import dev.dora4j.tensor.DType;
import dev.dora4j.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert a llama2.c checkpoint, or a BERT-family ONNX export, into a Hugging Face model directory"
                + " (config.json, model.safetensors, tokenizer).",
                "An ONNX file (or a .jar/.zip holding one) becomes a BertModel directory: the anonymous MatMul weights are"
                + " named after the bias their product is added to and transposed to [out, in]; the config is inferred"
                + " from the graph."})
final class ConvertCommand implements Callable<Integer> {
    static final class Source {
        @Option(names = "--llama2c", required = true, paramLabel = "FILE", description = "llama2.c checkpoint (.bin).")
        Path checkpoint;

        @Option(names = "--onnx", required = true, paramLabel = "FILE",
                description = "BERT-family ONNX model (.onnx), or a .jar/.zip holding exactly one.")
        Path onnx;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = {"llama2.c: tokenizer.bin (default: found beside the checkpoint).",
            "ONNX: tokenizer.json (default: <stem>-tokenizer.json or tokenizer.json beside the model or in its archive)."})
    Path tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (written atomically).")
    Path out;

    @Option(names = "--dtype", defaultValue = "F32", description = "F32, F16 or BF16 (default: ${DEFAULT-VALUE}; ONNX: F32 only).")
    DType dtype;

    @Override
    public Integer call() {
        return source.onnx != null ? convertOnnx() : convertLlama2c();
    }

    private int convertOnnx() {
        if (dtype != DType.F32) {
            throw new DoraException(source.onnx + ": ONNX models are converted as F32 only (--dtype " + dtype + " given)");
        }
        OnnxBertImporter.Imported imported = OnnxBertImporter.convert(source.onnx, tokenizer, out);
        OnnxBertConfig c = imported.config();
        System.err.printf("wrote %s: BERT, %d layers, hidden %d, %d heads, %,d parameters (F32)%n", out,
                c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), imported.parameterCount());
        System.out.println(out);
        return 0;
    }

    private int convertLlama2c() {
        Path checkpoint = source.checkpoint;
        LlamaModel model = Llama2cLoader.load(checkpoint);
        Path tok = tokenizerFile(checkpoint);
        try (var loaded = Tokenizers.load(checkpoint, tok)) {
            if (loaded.vocabSize() != model.config().vocabSize()) {
                throw new DoraException(tok + ": tokenizer has " + loaded.vocabSize() + " tokens but the checkpoint's vocabulary is "
                        + model.config().vocabSize());
            }
        }
        Map<String, Path> extra = new LinkedHashMap<>();
        extra.put("tokenizer.bin", tok);
        LlamaWriter.write(model, out, dtype, extra);
        System.err.printf("wrote %s: %d layers, %,d parameters (%s)%n", out, model.config().numHiddenLayers(),
                model.parameterCount(), dtype);
        System.out.println(out);
        return 0;
    }

    /** --tokenizer, else tokenizer.bin beside the checkpoint, else the one tok*.bin beside it. */
    private Path tokenizerFile(Path checkpoint) {
        if (tokenizer != null) return tokenizer;
        Path dir = checkpoint.toAbsolutePath().getParent();
        if (Files.isRegularFile(dir.resolve("tokenizer.bin"))) return dir.resolve("tokenizer.bin");
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> toks = files.filter(p -> p.getFileName().toString().matches("tok.*\\.bin")).sorted().toList();
            if (toks.size() == 1) return toks.getFirst();
        } catch (IOException e) {
            throw new DoraException(dir + ": cannot list: " + e.getMessage(), e);
        }
        throw new DoraException(checkpoint + ": no tokenizer.bin (or single tok*.bin) beside it; name one with --tokenizer");
    }
}
