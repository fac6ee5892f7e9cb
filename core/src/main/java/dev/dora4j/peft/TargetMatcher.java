package dev.dora4j.peft;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * PEFT's rules for which modules an adapter targets and which rank and alpha each gets:
 * a list of target names matches a module path exactly or as a {@code .name} suffix; a string is
 * a regular expression that must match the whole path; {@code rank_pattern} and
 * {@code alpha_pattern} keys match as {@code (.*\.)?(key)$}, the first matching key winning.
 */
public final class TargetMatcher {
    /** PEFT's shorthand for every linear layer except the output head. */
    public static final String ALL_LINEAR = "all-linear";

    private final List<String> names;
    private final Pattern regex;
    private final boolean allLinear;

    private TargetMatcher(List<String> names, Pattern regex, boolean allLinear) {
        this.names = names;
        this.regex = regex;
        this.allLinear = allLinear;
    }

    public static TargetMatcher of(PeftConfig config) {
        if (config.targetModulesRegex() != null) {
            if (config.targetModulesRegex().equals(ALL_LINEAR)) return new TargetMatcher(List.of(), null, true);
            return new TargetMatcher(List.of(), Pattern.compile(config.targetModulesRegex()), false);
        }
        return new TargetMatcher(List.copyOf(config.targetModules()), null, false);
    }

    /**
     * True when the module at {@code path} is targeted. {@code outputHead} tells whether it is the
     * model's output projection, which {@code all-linear} leaves alone.
     */
    public boolean matches(String path, boolean outputHead) {
        if (allLinear) return !outputHead;
        if (regex != null) return regex.matcher(path).matches();
        for (String name : names) {
            if (path.equals(name) || path.endsWith("." + name)) return true;
        }
        return false;
    }

    /** The value for {@code path} from a rank or alpha pattern map, or {@code fallback}. */
    public static <T> T patternValue(Map<String, T> patterns, String path, T fallback) {
        for (Map.Entry<String, T> e : patterns.entrySet()) {
            if (Pattern.compile(patternRegex(e.getKey())).matcher(path).matches()) return e.getValue();
        }
        return fallback;
    }

    /** The regular expression a {@code rank_pattern} or {@code alpha_pattern} key stands for. */
    static String patternRegex(String key) {
        return "(.*\\.)?(" + key + ")$";
    }
}
