package dev.dora4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Process resource figures read from the operating system. */
final class Resources {
    private Resources() {}

    /** Peak resident set size (VmHWM) in MB, or NaN where /proc is not available. */
    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
