package dev.dora4j.analysis;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One run's points in one line: the Pearson correlation of ΔM against ΔD, and the least-squares line
 * {@code ΔM = intercept + slope · ΔD} through them. The paper's finding is a negative slope for DoRA and a
 * positive one for LoRA and full fine-tuning. Correlation and slope are NaN when ΔD (or, for the
 * correlation, ΔM) does not vary.
 */
public record Summary(String run, String method, int points, double pearson, double slope, double intercept,
        double meanDeltaM, double meanDeltaD) {

    /** One summary per run, in the order the runs first appear in {@code points}. */
    public static List<Summary> of(List<Point> points) {
        Map<String, List<Point>> byRun = new LinkedHashMap<>();
        for (Point p : points) byRun.computeIfAbsent(p.run(), k -> new ArrayList<>()).add(p);
        List<Summary> out = new ArrayList<>();
        for (List<Point> run : byRun.values()) out.add(fit(run));
        return out;
    }

    /** The summary of points that all belong to one run. */
    public static Summary fit(List<Point> points) {
        int n = points.size();
        double mx = 0, my = 0;
        for (Point p : points) {
            mx += p.deltaD();
            my += p.deltaM();
        }
        mx /= n;
        my /= n;
        double sxx = 0, syy = 0, sxy = 0;
        for (Point p : points) {
            double dx = p.deltaD() - mx, dy = p.deltaM() - my;
            sxx += dx * dx;
            syy += dy * dy;
            sxy += dx * dy;
        }
        double slope = sxx > 0 ? sxy / sxx : Double.NaN;
        double pearson = sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Double.NaN;
        Point first = points.getFirst();
        return new Summary(first.run(), first.method(), n, pearson, slope, my - (Double.isNaN(slope) ? 0 : slope * mx), my, mx);
    }
}
