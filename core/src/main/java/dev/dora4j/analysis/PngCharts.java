package dev.dora4j.analysis;

import dev.dora4j.io.AtomicFiles;
import java.awt.Color;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;

/** Writes XChart charts as PNG files, headless and atomically; the house style of the analysis plots. */
final class PngCharts {
    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    /** Early to late: the colours of steps and runs, from a blue through teal and green to orange. */
    private static final Color[] RAMP = {new Color(0x3B, 0x4C, 0xC0), new Color(0x1F, 0x9E, 0x89), new Color(0x6D, 0xCD, 0x59),
        new Color(0xF0, 0x9A, 0x1F), new Color(0xC0, 0x1F, 0x3B)};

    private PngCharts() {}

    /** Charts laid out in a grid of {@code rows} × {@code cols}, as one PNG at {@code target}. */
    static void write(Path target, List<XYChart> charts, int rows, int cols) {
        AtomicFiles.write(target, tmp -> {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                BitmapEncoder.saveBitmap(charts, rows, cols, out, BitmapEncoder.BitmapFormat.PNG);
            }
        });
    }

    /** White background, light grid, legend inside the plot. */
    static void style(XYChart chart) {
        XYStyler s = chart.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderColor(Color.GRAY);
        s.setPlotGridLinesColor(new Color(0xE0, 0xE0, 0xE0));
        s.setLegendBackgroundColor(new Color(255, 255, 255, 220));
        s.setLegendBorderColor(Color.LIGHT_GRAY);
        s.setLegendPosition(Styler.LegendPosition.InsideNW);
        s.setChartTitleBoxVisible(false);
        s.setMarkerSize(9);
    }

    /** The colour of item {@code i} of {@code n}, spread along the ramp. */
    static Color ramp(int i, int n) {
        if (n <= 1) return RAMP[0];
        double t = (double) i / (n - 1) * (RAMP.length - 1);
        int k = Math.min((int) t, RAMP.length - 2);
        double f = t - k;
        Color a = RAMP[k], b = RAMP[k + 1];
        return new Color((int) Math.round(a.getRed() + f * (b.getRed() - a.getRed())),
                (int) Math.round(a.getGreen() + f * (b.getGreen() - a.getGreen())),
                (int) Math.round(a.getBlue() + f * (b.getBlue() - a.getBlue())));
    }
}
