package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.model.AdapterCombine;
import dev.dora4j.peft.LoraCombination;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "combine", mixinStandardHelpOptions = true,
        description = "Combine LoRA/DoRA adapters into one with weights (PEFT's add_weighted_adapter; exact for DoRA with cat).")
final class CombineCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--adapter", required = true, paramLabel = "DIR[:WEIGHT]",
            description = "An input adapter and its weight (default 1); repeat for each adapter.")
    List<String> adapters;

    @Option(names = "--method", defaultValue = "cat", paramLabel = "cat|linear|svd",
            description = "cat: exact, rank Σ r; linear: PEFT's, LoRA of equal ranks; svd: truncated to --rank (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--rank", paramLabel = "R", description = "svd: the combined rank (default: the largest input rank).")
    Integer rank;

    @Option(names = "--model", paramLabel = "DIR", description = "The base model directory; required when an input is DoRA.")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output adapter directory (written atomically).")
    Path out;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        LoraCombination.Kind kind;
        try {
            kind = LoraCombination.Kind.valueOf(method.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new DoraException("--method must be cat, linear or svd, got " + method);
        }
        List<AdapterCombine.Weighted> inputs = new ArrayList<>();
        for (String a : adapters) inputs.add(parse(a));
        AdapterCombine.Summary s = AdapterCombine.combine(inputs, kind, rank, model, out);
        double worst = s.relativeErrors().values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
        if (json) {
            ObjectNode o = JSON.createObjectNode();
            o.put("out", out.toString());
            o.put("method", kind.name().toLowerCase(Locale.ROOT));
            o.put("rank", s.rank());
            o.put("dora", s.dora());
            o.put("worst_relative_error", worst);
            ObjectNode errors = o.putObject("relative_errors");
            s.relativeErrors().forEach(errors::put);
            System.out.println(JSON.writeValueAsString(o));
        } else {
            System.err.printf("combined %d adapters (%s) into a %s adapter of rank %d%n", inputs.size(),
                    kind.name().toLowerCase(Locale.ROOT), s.dora() ? "DoRA" : "LoRA", s.rank());
            s.relativeErrors().forEach((path, err) -> System.out.printf("%s\t%.3g%n", path, err));
            System.out.printf("worst relative error of a merged weight: %.3g%n", worst);
        }
        return 0;
    }

    /** DIR or DIR:WEIGHT (the last colon separates the weight when what follows it is a number). */
    static AdapterCombine.Weighted parse(String arg) {
        int colon = arg.lastIndexOf(':');
        if (colon > 0) {
            try {
                double w = Double.parseDouble(arg.substring(colon + 1));
                if (!Double.isFinite(w)) throw new DoraException("--adapter " + arg + ": the weight must be finite");
                return new AdapterCombine.Weighted(Path.of(arg.substring(0, colon)), w);
            } catch (NumberFormatException e) {
                // not a weight: the colon belongs to the path
            }
        }
        return new AdapterCombine.Weighted(Path.of(arg), 1.0);
    }
}
