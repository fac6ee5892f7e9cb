package dev.dora4j.analysis;

import java.awt.BasicStroke;
import java.awt.Color;
import java.util.List;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Training loss (solid) and held-out loss (dashed, with markers) against step, one colour per run. */
final class LossPlot {
    static final int WIDTH = 820, HEIGHT = 520;

    private LossPlot() {}

    /** @param labels run labels, parallel to {@code histories} */
    static XYChart chart(List<String> labels, List<LossHistory> histories) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title("Training and held-out loss")
                .xAxisTitle("step").yAxisTitle("loss").build();
        PngCharts.style(chart);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setMarkerSize(7);
        long every = labelEvery(histories);
        chart.getStyler().setxAxisTickLabelsFormattingFunction(step -> step % every == 0 ? Long.toString(Math.round(step)) : " ");
        chart.getStyler().setPlotGridVerticalLinesVisible(false);
        chart.getStyler().setXAxisMin(0.0);
        for (int r = 0; r < labels.size(); r++) {
            Color colour = PngCharts.ramp(r, labels.size());
            LossHistory h = histories.get(r);
            if (!h.train().isEmpty()) {
                XYSeries s = chart.addSeries(labels.get(r) + " train", column(h.train(), 0), column(h.train(), 1));
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
                s.setMarker(SeriesMarkers.NONE);
                s.setLineColor(colour);
                s.setLineStyle(new BasicStroke(1.5f));
            }
            if (!h.eval().isEmpty()) {
                XYSeries s = chart.addSeries(labels.get(r) + " held-out", column(h.eval(), 0), column(h.eval(), 1));
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
                s.setMarker(SeriesMarkers.CIRCLE);
                s.setMarkerColor(colour);
                s.setLineColor(colour);
                s.setLineStyle(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {7f, 4f}, 0f));
            }
        }
        if (chart.getSeriesMap().isEmpty()) {
            XYSeries s = chart.addSeries("no metrics.jsonl", new double[] {0}, new double[] {0});
            s.setMarker(SeriesMarkers.NONE);
        }
        return chart;
    }

    /**
     * XChart places x ticks on the logged steps themselves (from 0, the axis minimum); only multiples of
     * 1, 2 or 5 × 10^k that give about ten labels are labelled.
     */
    private static long labelEvery(List<LossHistory> histories) {
        long last = histories.stream().mapToLong(LossHistory::lastStep).max().orElse(1);
        for (long scale = 1; ; scale *= 10) {
            for (long m : new long[] {1, 2, 5}) {
                if (m * scale * 10 >= last) return m * scale;
            }
        }
    }

    private static double[] column(List<double[]> pairs, int k) {
        double[] out = new double[pairs.size()];
        for (int i = 0; i < out.length; i++) out[i] = pairs.get(i)[k];
        return out;
    }
}
