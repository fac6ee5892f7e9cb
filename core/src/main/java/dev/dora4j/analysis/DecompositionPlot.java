package dev.dora4j.analysis;

import java.awt.BasicStroke;
import java.awt.Color;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The paper's figure 2 for one run: ΔD on x, ΔM on y, one point per layer and module, one marker and
 * colour per step (early blue, late red), and the least-squares line with its slope and correlation
 * in the legend.
 */
final class DecompositionPlot {
    static final int WIDTH = 660, HEIGHT = 460;
    private static final Marker[] MARKERS = {SeriesMarkers.CIRCLE, SeriesMarkers.DIAMOND, SeriesMarkers.SQUARE,
        SeriesMarkers.TRIANGLE_UP, SeriesMarkers.TRIANGLE_DOWN, SeriesMarkers.CROSS, SeriesMarkers.PLUS, SeriesMarkers.OVAL};

    private DecompositionPlot() {}

    static XYChart chart(Summary summary, List<Point> points) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(summary.run().equals(summary.method()) ? summary.run() : summary.run() + " (" + summary.method() + ")")
                .xAxisTitle("ΔD (mean 1 − cos)").yAxisTitle("ΔM (mean |Δ‖row‖|)").build();
        PngCharts.style(chart);
        chart.getStyler().setXAxisDecimalPattern("0.0##E0");
        chart.getStyler().setYAxisDecimalPattern("0.0##E0");
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Vertical);
        TreeMap<Long, List<Point>> bySteps = new TreeMap<>();
        for (Point p : points) bySteps.computeIfAbsent(p.step(), k -> new ArrayList<>()).add(p);
        int i = 0;
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        for (var e : bySteps.entrySet()) {
            List<Point> step = e.getValue();
            double[] x = step.stream().mapToDouble(Point::deltaD).toArray();
            double[] y = step.stream().mapToDouble(Point::deltaM).toArray();
            for (double v : x) {
                minX = Math.min(minX, v);
                maxX = Math.max(maxX, v);
            }
            XYSeries s = chart.addSeries("step " + e.getKey(), x, y);
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            s.setMarker(MARKERS[i % MARKERS.length]);
            s.setMarkerColor(PngCharts.ramp(i, bySteps.size()));
            i++;
        }
        if (!Double.isNaN(summary.slope())) {
            double[] fx = {minX, maxX};
            double[] fy = {summary.intercept() + summary.slope() * minX, summary.intercept() + summary.slope() * maxX};
            String label = String.format(Locale.ROOT, "fit: slope %.3g, r = %.3f", summary.slope(), summary.pearson());
            XYSeries fit = chart.addSeries(label, fx, fy);
            fit.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            fit.setMarker(SeriesMarkers.NONE);
            fit.setLineColor(Color.BLACK);
            fit.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        }
        return chart;
    }
}
