package dev.dora4j.tokenizer;

/**
 * Keeps the DJL tokenizers binding off the network. Its native library is extracted from the
 * {@code ai.djl.huggingface:tokenizers} jar (which bundles it for linux-x86_64, linux-aarch64,
 * osx-aarch64 and win-x86_64) into DJL's cache folder ({@code ENGINE_CACHE_DIR}, {@code DJL_CACHE_DIR}
 * or {@code ~/.djl.ai}); nothing is downloaded for that. What would reach the network is the telemetry
 * call that every {@code HuggingFaceTokenizer.newInstance} makes and loading by hub name, which this
 * package never does. Both settings are system properties that DJL reads; a value the user set wins.
 */
final class DjlOffline {
    /** DJL's offline switch ({@code Utils.isOfflineMode}; the environment variable is DJL_OFFLINE). */
    static final String OFFLINE = "ai.djl.offline";
    /** DJL's telemetry opt-out ({@code Ec2Utils.callHome}). */
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
