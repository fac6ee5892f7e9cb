package dev.dora4j.tokenizer;

/**
 * Keeps the DJL tokenizers binding off the network. Its native library ships in the
 * {@code ai.djl.huggingface:tokenizers} jar as CPU builds for linux-x86_64, linux-aarch64, osx-aarch64
 * and win-x86_64, and is copied from there into DJL's cache folder ({@code ENGINE_CACHE_DIR},
 * {@code DJL_CACHE_DIR} or {@code ~/.djl.ai}). Three things in DJL would reach the network otherwise:
 * on a machine where it detects CUDA it downloads a CUDA build of the library unless offline mode is on
 * (offline mode makes it take the bundled CPU build); every {@code HuggingFaceTokenizer.newInstance}
 * makes a telemetry call unless offline mode or {@code OPT_OUT_TRACKING} is set; and loading by hub name
 * downloads, which this package never does. Both switches are set here as system properties before the
 * first tokenizer is created; a value the user set, as property or environment variable, wins.
 */
final class DjlOffline {
    /** DJL's offline switch ({@code Utils.isOfflineMode}); its environment variable is DJL_OFFLINE. */
    static final String OFFLINE = "ai.djl.offline";
    /** DJL's telemetry opt-out ({@code Ec2Utils.callHome}), property and environment variable alike. */
    static final String OPT_OUT_TRACKING = "OPT_OUT_TRACKING";

    private DjlOffline() {
    }

    static void apply() {
        setIfAbsent(OFFLINE, "DJL_OFFLINE");
        setIfAbsent(OPT_OUT_TRACKING, OPT_OUT_TRACKING);
    }

    private static void setIfAbsent(String property, String environmentVariable) {
        if (System.getProperty(property) == null && System.getenv(environmentVariable) == null) {
            System.setProperty(property, "true");
        }
    }
}
