package dev.dora4j.analysis;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.XYChart;

/**
 * The files of an analysis, each written atomically into the output directory:
 * <ul>
 *   <li>{@code analysis.csv}: run, method, step, layer, module, delta_m, delta_d, one line per point;</li>
 *   <li>{@code summary.json}: per run its steps, Pearson correlation and least-squares line of ΔM against ΔD,
 *       mean ΔM and ΔD, the final training and held-out loss from {@code metrics.jsonl}, and the same
 *       correlation, slope and means within each step ({@code per_step});</li>
 *   <li>{@code decomposition.png}: the paper's figure 2, one panel per run, and {@code decomposition-RUN.png} each alone;</li>
 *   <li>{@code loss.png}: every run's training and held-out loss curves.</li>
 * </ul>
 * Everything is computed before the first file is written.
 */
public final class AnalysisReport {
    public static final String CSV = "analysis.csv";
    public static final String SUMMARY = "summary.json";
    public static final String FIGURE = "decomposition.png";
    public static final String LOSS = "loss.png";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final int PANELS_PER_ROW = 3;

    private AnalysisReport() {}

    /** Writes every file into {@code out} (created when missing) and returns their paths. */
    public static List<Path> write(WeightDecomposition.Analysis analysis, Path out) {
        List<Summary> summaries = analysis.summaries();
        List<LossHistory> losses = analysis.runs().stream().map(r -> LossHistory.read(r.dir())).toList();
        String csv = csv(analysis.points());
        String summary = summaryJson(analysis, summaries, losses);
        List<XYChart> panels = new ArrayList<>();
        for (Summary s : summaries) {
            panels.add(DecompositionPlot.chart(s, analysis.points().stream().filter(p -> p.run().equals(s.run())).toList()));
        }
        XYChart loss = LossPlot.chart(analysis.runs().stream().map(RunDirectory::label).toList(), losses);

        List<Path> written = new ArrayList<>();
        written.add(writeString(out.resolve(CSV), csv));
        written.add(writeString(out.resolve(SUMMARY), summary));
        int cols = Math.min(PANELS_PER_ROW, panels.size()), rows = (panels.size() + cols - 1) / cols;
        PngCharts.write(out.resolve(FIGURE), panels, rows, cols);
        written.add(out.resolve(FIGURE));
        for (int i = 0; i < panels.size(); i++) {
            Path file = out.resolve("decomposition-" + fileSafe(summaries.get(i).run()) + ".png");
            PngCharts.write(file, List.of(panels.get(i)), 1, 1);
            written.add(file);
        }
        PngCharts.write(out.resolve(LOSS), List.of(loss), 1, 1);
        written.add(out.resolve(LOSS));
        return written;
    }

    /** The CSV text: a header line, then one line per point, numbers in full precision. */
    public static String csv(List<Point> points) {
        StringBuilder sb = new StringBuilder("run,method,step,layer,module,delta_m,delta_d\n");
        for (Point p : points) {
            sb.append(csvField(p.run())).append(',').append(p.method()).append(',').append(p.step()).append(',').append(p.layer())
                    .append(',').append(csvField(p.module())).append(',').append(p.deltaM()).append(',').append(p.deltaD()).append('\n');
        }
        return sb.toString();
    }

    /** The summary document (also what {@code analyze --json} prints). */
    public static String summaryJson(WeightDecomposition.Analysis analysis) {
        return summaryJson(analysis, analysis.summaries(), analysis.runs().stream().map(r -> LossHistory.read(r.dir())).toList());
    }

    private static String summaryJson(WeightDecomposition.Analysis analysis, List<Summary> summaries, List<LossHistory> losses) {
        ObjectNode root = JSON.createObjectNode();
        root.put("base", analysis.base().toString());
        ArrayNode modules = root.putArray("modules");
        analysis.modules().forEach(modules::add);
        ArrayNode runs = root.putArray("runs");
        for (int i = 0; i < analysis.runs().size(); i++) {
            RunDirectory run = analysis.runs().get(i);
            Summary s = summaries.stream().filter(x -> x.run().equals(run.label())).findFirst().orElseThrow();
            ObjectNode o = runs.addObject();
            o.put("run", run.label());
            o.put("path", run.dir().toString());
            o.put("method", run.method());
            ArrayNode steps = o.putArray("steps");
            run.steps().forEach(steps::add);
            o.put("points", s.points());
            number(o, "pearson", s.pearson());
            number(o, "slope", s.slope());
            number(o, "intercept", s.intercept());
            number(o, "mean_delta_m", s.meanDeltaM());
            number(o, "mean_delta_d", s.meanDeltaD());
            number(o, "final_train_loss", losses.get(i).finalTrainLoss());
            number(o, "final_eval_loss", losses.get(i).finalEvalLoss());
            ArrayNode perStep = o.putArray("per_step");
            for (long step : run.steps()) {
                Summary at = Summary.fit(analysis.points().stream().filter(p -> p.run().equals(run.label()) && p.step() == step).toList());
                ObjectNode so = perStep.addObject();
                so.put("step", step);
                number(so, "pearson", at.pearson());
                number(so, "slope", at.slope());
                number(so, "mean_delta_m", at.meanDeltaM());
                number(so, "mean_delta_d", at.meanDeltaD());
            }
        }
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new DoraException("cannot serialise the analysis summary: " + e.getMessage(), e);
        }
    }

    /** JSON has no NaN: a missing or undefined number is null. */
    private static void number(ObjectNode o, String key, Double value) {
        if (value == null || value.isNaN() || value.isInfinite()) o.putNull(key);
        else o.put(key, value);
    }

    private static Path writeString(Path file, String content) {
        AtomicFiles.writeString(file, content);
        return file;
    }

    private static String csvField(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private static String fileSafe(String label) {
        return label.replaceAll("[^A-Za-z0-9._-]", "_");
    }
}
