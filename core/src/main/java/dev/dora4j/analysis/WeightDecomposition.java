package dev.dora4j.analysis;

import dev.dora4j.DoraException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The weight-decomposition analysis of the DoRA paper (section 3.2, figure 2): for every run, snapshot,
 * layer and module, how far the trained weight W_t has moved from the pretrained W_0 in magnitude (ΔM) and
 * in direction (ΔD), per output row, averaged. Adapters are merged as PEFT merges them.
 *
 * <p>The work streams one matrix at a time: W_0 of one layer's module is read, then each run's snapshot
 * contributes that module only (an adapter's small A, B and magnitude; a full model's single tensor through
 * the memory-mapped reader), so a 7B model's runs need about two weight matrices of memory.
 */
public final class WeightDecomposition {
    /** The modules the paper analyses. */
    public static final List<String> DEFAULT_MODULES = List.of("q_proj", "v_proj");

    /** The runs as read, and every point of them, ordered by run, step, layer and module. */
    public record Analysis(Path base, List<String> modules, List<RunDirectory> runs, List<Point> points) {
        public List<Summary> summaries() {
            return Summary.of(points);
        }
    }

    private WeightDecomposition() {}

    /** The points of every run against {@code base} (a model directory or llama2.c checkpoint). */
    public static List<Point> analyze(Path base, List<Path> runs, List<String> modules) {
        return run(base, runs, modules, message -> {}).points();
    }

    /** {@link #analyze}, keeping what was read about the runs; progress lines go to {@code progress}. */
    public static Analysis run(Path base, List<Path> runDirs, List<String> modules, Consumer<String> progress) {
        if (runDirs.isEmpty()) throw new DoraException("give at least one run directory");
        if (modules.isEmpty()) throw new DoraException("give at least one module");
        if (new HashSet<>(modules).size() != modules.size()) throw new DoraException("modules " + modules + " name one module twice");
        List<RunDirectory> runs = open(runDirs);
        try (BaseWeights weights = BaseWeights.open(base)) {
            List<List<String>> names = new ArrayList<>();
            for (String module : modules) names.add(weights.weightNames(module));
            int layers = weights.layers();
            int snapshots = runs.stream().mapToInt(r -> r.snapshots().size()).sum();
            progress.accept(String.format("analysing %d runs (%d snapshots), %d layers x %d modules", runs.size(), snapshots, layers,
                    modules.size()));
            List<Point> points = new ArrayList<>();
            for (int layer = 0; layer < layers; layer++) {
                for (int k = 0; k < modules.size(); k++) {
                    String name = names.get(k).get(layer);
                    Matrix w0 = weights.read(name);
                    for (RunDirectory run : runs) {
                        for (Snapshot s : run.snapshots()) {
                            WeightDeltas.Delta d = WeightDeltas.measure(w0, s.rows(name, w0));
                            points.add(new Point(run.label(), run.method(), s.step(), layer, modules.get(k), d.deltaM(), d.deltaD()));
                        }
                    }
                }
                progress.accept(String.format("layer %d/%d done", layer + 1, layers));
            }
            points.sort(order(runs, modules));
            return new Analysis(base, List.copyOf(modules), runs, List.copyOf(points));
        }
    }

    private static List<RunDirectory> open(List<Path> dirs) {
        List<RunDirectory> runs = new ArrayList<>();
        Set<String> labels = new HashSet<>();
        for (Path dir : dirs) {
            Path name = dir.toAbsolutePath().normalize().getFileName();
            String base = name == null ? "run" : name.toString();
            String label = base;
            for (int i = 2; !labels.add(label); i++) label = base + "-" + i;
            runs.add(RunDirectory.open(dir, label));
        }
        return runs;
    }

    private static Comparator<Point> order(List<RunDirectory> runs, List<String> modules) {
        List<String> labels = runs.stream().map(RunDirectory::label).toList();
        return Comparator.comparingInt((Point p) -> labels.indexOf(p.run()))
                .thenComparingLong(Point::step)
                .thenComparingInt(Point::layer)
                .thenComparingInt(p -> modules.indexOf(p.module()));
    }
}
