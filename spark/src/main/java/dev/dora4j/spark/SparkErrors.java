package dev.dora4j.spark;

import dev.dora4j.DoraException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A failed Spark job as dora4j's one-line error: the first {@link DoraException} message a task threw, else Spark's reason. */
final class SparkErrors {
    private static final Pattern DORA = Pattern.compile(Pattern.quote(DoraException.class.getName()) + ": ([^\\n]*)");
    private static final Pattern REASON = Pattern.compile("Job aborted due to stage failure: ([^\\n]*)");

    private SparkErrors() {}

    static DoraException oneLine(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof DoraException d) return d;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            Matcher m = DORA.matcher(String.valueOf(t.getMessage()));
            if (m.find()) return new DoraException(m.group(1).strip(), e);
        }
        Matcher m = REASON.matcher(String.valueOf(e.getMessage()));
        String reason = m.find() ? m.group(1) : String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
        return new DoraException("the Spark job failed: " + reason, e);
    }
}
