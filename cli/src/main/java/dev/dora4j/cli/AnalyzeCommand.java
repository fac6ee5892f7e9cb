package dev.dora4j.cli;

import dev.dora4j.analysis.AnalysisReport;
import dev.dora4j.analysis.Summary;
import dev.dora4j.analysis.WeightDecomposition;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "analyze", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The DoRA paper's weight-decomposition analysis: for every run, checkpoint, layer and module, the change",
            "in magnitude (ΔM) and direction (ΔD) of the merged weight against the base, with per run the correlation and",
            "slope of ΔM against ΔD. Writes analysis.csv, summary.json, decomposition.png and loss.png into --out."})
final class AnalyzeCommand implements Callable<Integer> {
    @Option(names = "--base", required = true, paramLabel = "PATH",
            description = "The pretrained model the runs started from: Hugging Face directory or llama2.c .bin.")
    Path base;
    @Option(names = "--run", required = true, paramLabel = "DIR",
            description = "A training run's --out directory (adapter or full model, with checkpoints/step-N); repeat for more runs.")
    List<Path> runs;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the CSV, summary and plots go.")
    Path out;
    @Option(names = "--modules", split = ",", defaultValue = "q_proj,v_proj",
            description = "Modules to analyse, by short name or dotted suffix (default: ${DEFAULT-VALUE}, as the paper).")
    List<String> modules;
    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;
    @Option(names = "--json", description = "Print summary.json on stdout instead of the table.")
    boolean json;

    @Override
    public Integer call() {
        if (threads != null) dev.dora4j.kernel.Parallel.setThreads(threads);
        long start = System.nanoTime();
        WeightDecomposition.Analysis analysis = WeightDecomposition.run(base, runs, modules, System.err::println);
        List<Path> written = AnalysisReport.write(analysis, out);
        System.err.printf(Locale.ROOT, "analysed %d points in %.1f s; wrote %d files to %s%n", analysis.points().size(),
                (System.nanoTime() - start) / 1e9, written.size(), out);
        if (json) {
            System.out.print(AnalysisReport.summaryJson(analysis));
            return 0;
        }
        System.out.printf("%-16s %-6s %7s %10s %12s %12s %12s%n", "run", "method", "points", "pearson", "slope", "mean ΔM", "mean ΔD");
        for (Summary s : analysis.summaries()) {
            System.out.printf(Locale.ROOT, "%-16s %-6s %7d %10.4f %12.4g %12.4g %12.4g%n", s.run(), s.method(), s.points(), s.pearson(),
                    s.slope(), s.meanDeltaM(), s.meanDeltaD());
        }
        System.out.println(out);
        return 0;
    }
}
