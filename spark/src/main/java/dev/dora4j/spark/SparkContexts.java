package dev.dora4j.spark;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Opens the Spark context dora4j's jobs run in: Spark's logging off unless {@code debug}, no web UI, barrier slot checks
 * and barrier syncs bounded in time, and a master that cannot be reached reported at once by name.
 */
public final class SparkContexts {
    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)]");
    private static final Pattern STANDALONE = Pattern.compile("spark://([^,/]+)");
    /** Stage attempts Spark makes for a gang before giving up (a failed barrier stage is retried whole). */
    static final int STAGE_ATTEMPTS = 4;
    /**
     * The JVM options of every executor: the vector API, and dora4j's methods compiled by C2 after a fifth of the usual
     * counts, as the {@code dora4j} launcher gives the driver (there: why; "quiet" keeps the JVM from printing it).
     */
    static final String EXECUTOR_JAVA_OPTIONS = "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
            + " -XX:CompileCommand=quiet -XX:CompileCommand=CompileThresholdScaling,dev.dora4j.*::*,0.2";

    private SparkContexts() {}

    /** A context on {@code master} ({@code local[N]}, {@code spark://host:port}, {@code yarn}, {@code k8s://...}). */
    public static JavaSparkContext open(String master, String appName, boolean debug) {
        Configurator.setRootLevel(debug ? Level.INFO : Level.OFF);
        checkReachable(master);
        Matcher local = LOCAL.matcher(master);
        // local[N] gives a task one attempt; local[N,F] lets a failed gang be relaunched as on a cluster
        String url = local.matches() ? "local[" + local.group(1) + "," + STAGE_ATTEMPTS + "]" : master;
        SparkConf conf = new SparkConf().setMaster(url).setAppName(appName)
                .set("spark.ui.enabled", "false")
                .set("spark.executor.extraJavaOptions", EXECUTOR_JAVA_OPTIONS)
                .set("spark.stage.maxConsecutiveAttempts", Integer.toString(STAGE_ATTEMPTS))
                .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "5s")
                .set("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "12")
                .set("spark.barrier.sync.timeout", "900s");
        try {
            JavaSparkContext sc = new JavaSparkContext(conf);
            Configurator.setRootLevel(debug ? Level.INFO : Level.OFF);
            return sc;
        } catch (RuntimeException e) {
            throw new DoraException("cannot start Spark on '" + master + "': " + e.getMessage(), e);
        }
    }

    /** A standalone master that refuses or does not answer a TCP connection within 10 s fails here, by name. */
    static void checkReachable(String master) {
        Matcher m = STANDALONE.matcher(master);
        if (!m.lookingAt()) return;
        URI uri = URI.create("spark://" + m.group(1));
        if (uri.getHost() == null || uri.getPort() < 0) throw new DoraException("--spark " + master + ": expected spark://HOST:PORT");
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 10_000);
        } catch (IOException e) {
            throw new DoraException("cannot reach the Spark master at " + master + " (" + e.getMessage() + ")");
        }
    }

    /** Task slots the context offers now: local[N]'s N, or the cores of the registered executors. */
    static int slots(JavaSparkContext sc) {
        return sc.sc().isLocal() ? sc.sc().defaultParallelism() : executorCores(sc);
    }

    private static int executorCores(JavaSparkContext sc) {
        int executors = sc.sc().statusTracker().getExecutorInfos().length - 1;
        return executors <= 0 ? 0 : sc.sc().defaultParallelism();
    }
}
