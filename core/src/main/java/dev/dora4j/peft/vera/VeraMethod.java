package dev.dora4j.peft.vera;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.FileTensor;
import dev.dora4j.peft.ModuleWeights;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.peft.PeftMethod;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * VeRA ({@code peft_type: "VERA"}, PEFT's method) and DVoRA (the same with {@code use_dora: true} and a DoRA
 * magnitude per module, this project's extension) as registered methods.
 */
public enum VeraMethod implements PeftMethod {
    VERA(false, "VeRA"),
    DVORA(true, "DVoRA");

    private final boolean dora;
    private final String displayName;

    VeraMethod(boolean dora, String displayName) {
        this.dora = dora;
        this.displayName = displayName;
    }

    @Override
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String displayName() {
        return displayName;
    }

    @Override
    public String peftType() {
        return "VERA";
    }

    @Override
    public boolean useDora() {
        return dora;
    }

    @Override
    public PeftConfig parseConfig(JsonNode root, String source) {
        return VeraConfig.parse(root, source);
    }

    @Override
    public PeftConfig newConfig(AdapterSettings s) {
        return new VeraConfig(s.rank(), s.targets(), null, s.projectionPrngKey(), s.dropout(), s.veraDInitial(), "none",
                s.modulesToSave(), s.taskType(), s.baseModel(), dora, null);
    }

    @Override
    public Set<String> sharedKeys() {
        return Set.of(VeraKeys.VERA_A, VeraKeys.VERA_B);
    }

    /**
     * Fresh adapters as PEFT makes them: projections sized by the largest targeted layer, Kaiming-uniform; λ_b zero,
     * λ_d = d_initial; for DVoRA the magnitude = ‖W‖ per row (the norm of the merged weight while λ_b = 0).
     */
    @Override
    public Map<String, Adapter> create(PeftConfig peftConfig, Map<String, Linear> targets, long seed) {
        VeraConfig config = (VeraConfig) peftConfig;
        int maxIn = 0, maxOut = 0;
        for (Linear l : targets.values()) {
            maxIn = Math.max(maxIn, l.inFeatures());
            maxOut = Math.max(maxOut, l.outFeatures());
        }
        VeraProjections projections = VeraProjections.kaiming(config.r(), maxIn, maxOut, config.projectionPrngKey());
        Map<String, Adapter> adapters = new LinkedHashMap<>();
        for (var e : targets.entrySet()) {
            String path = e.getKey();
            Linear layer = e.getValue();
            int out = layer.outFeatures(), in = layer.inFeatures();
            float[] d = new float[config.r()];
            Arrays.fill(d, config.dInitial());
            Tensor magnitude = dora ? Tensor.param(rowNorms(layer), out).named(VeraKeys.magnitude(path)) : null;
            adapters.put(path, new VeraAdapter(this, path, projections,
                    Tensor.param(new float[out], out).named(VeraKeys.lambdaB(path)),
                    Tensor.param(d, config.r()).named(VeraKeys.lambdaD(path)), magnitude, in,
                    AdapterInjector.dropout(config, seed, path)));
        }
        return adapters;
    }

    /** ‖W‖ per row, from the weight in its own storage. */
    private static float[] rowNorms(Linear layer) {
        double[] sq = layer.weight().matrix().rowSquaredNorms();
        float[] n = new float[sq.length];
        for (int o = 0; o < n.length; o++) n[o] = (float) Math.sqrt(sq[o]);
        return n;
    }

    @Override
    public Map<String, ModuleWeights> readModules(PeftConfig peftConfig, Map<String, FileTensor> tensors, Path file) {
        VeraConfig config = (VeraConfig) peftConfig;
        FileTensor a = tensors.get(VeraKeys.VERA_A), b = tensors.get(VeraKeys.VERA_B);
        if (a == null || b == null) {
            throw new DoraException(file + ": tensor '" + (a == null ? VeraKeys.VERA_A : VeraKeys.VERA_B)
                    + "' is missing (the shared projections are saved with save_projection)");
        }
        if (a.rank() != 2 || b.rank() != 2 || a.dim(0) != config.r() || b.dim(1) != config.r()) {
            throw new DoraException(file + ": tensors '" + VeraKeys.VERA_A + "' " + Arrays.toString(a.shape()) + " and '"
                    + VeraKeys.VERA_B + "' " + Arrays.toString(b.shape()) + " must be [r, max in] and [max out, r] with r = "
                    + config.r() + " (adapter_config.json)");
        }
        VeraProjections projections = new VeraProjections(Tensor.of(a.values(), a.dim(0), a.dim(1)),
                Tensor.of(b.values(), b.dim(0), b.dim(1)));
        Map<String, FileTensor> lb = new LinkedHashMap<>(), ld = new LinkedHashMap<>(), m = new LinkedHashMap<>();
        for (FileTensor t : tensors.values()) {
            if (sharedKeys().contains(t.name())) continue;
            String rest = t.name().substring(PeftKeys.PREFIX.length());
            Map<String, FileTensor> into = rest.endsWith(VeraKeys.LAMBDA_B) ? lb : rest.endsWith(VeraKeys.LAMBDA_D) ? ld
                    : rest.endsWith(VeraKeys.MAGNITUDE) ? m : null;
            if (into == null) {
                throw new DoraException(file + ": tensor '" + t.name() + "' is not a VeRA tensor (vera_lambda_b, vera_lambda_d"
                        + (dora ? ", vera_magnitude_vector" : "") + ") nor in a module of modules_to_save " + config.modulesToSave());
            }
            if (t.rank() != 1) {
                throw new DoraException(file + ": tensor '" + t.name() + "' must be 1-D, has shape " + Arrays.toString(t.shape()));
            }
            into.put(rest.substring(0, rest.lastIndexOf('.')), t);
        }
        Map<String, ModuleWeights> modules = new LinkedHashMap<>();
        for (var e : lb.entrySet()) {
            String path = e.getKey();
            FileTensor lambdaB = e.getValue(), lambdaD = ld.remove(path), mag = m.remove(path);
            if (lambdaD == null) throw new DoraException(file + ": tensor '" + VeraKeys.lambdaD(path) + "' is missing");
            if (lambdaD.dim(0) != config.r()) {
                throw new DoraException(file + ": tensor '" + VeraKeys.lambdaD(path) + "' has " + lambdaD.dim(0)
                        + " entries but adapter_config.json gives r = " + config.r());
            }
            int out = lambdaB.dim(0);
            if (out > projections.maxOut()) {
                throw new DoraException(file + ": tensor '" + VeraKeys.lambdaB(path) + "' has " + out + " entries but '"
                        + VeraKeys.VERA_B + "' has only " + projections.maxOut() + " rows");
            }
            if (dora && mag == null) throw new DoraException(file + ": tensor '" + VeraKeys.magnitude(path) + "' is missing (use_dora is true)");
            if (!dora && mag != null) throw new DoraException(file + ": tensor '" + VeraKeys.magnitude(path) + "' present but use_dora is false");
            if (mag != null && mag.dim(0) != out) {
                throw new DoraException(file + ": tensor '" + VeraKeys.magnitude(path) + "' has " + mag.dim(0)
                        + " entries but vera_lambda_b has " + out);
            }
            modules.put(path, new VeraWeights(path, projections, lambdaB.values(), lambdaD.values(), mag == null ? null : mag.values()));
        }
        if (!ld.isEmpty()) throw new DoraException(file + ": tensor '" + VeraKeys.lambdaB(ld.keySet().iterator().next()) + "' is missing");
        if (!m.isEmpty()) {
            throw new DoraException(file + ": tensor '" + VeraKeys.magnitude(m.keySet().iterator().next())
                    + "' has no vera_lambda_b/vera_lambda_d beside it");
        }
        return modules;
    }

    @Override
    public Map<String, Adapter> attach(PeftConfig config, Map<String, ModuleWeights> modules, Map<String, Linear> layers,
            boolean trainable, long seed) {
        Map<String, Adapter> adapters = new LinkedHashMap<>();
        for (var e : layers.entrySet()) {
            String path = e.getKey();
            VeraWeights w = (VeraWeights) modules.get(path);
            int out = w.lambdaB().length, r = w.rank();
            Tensor magnitude = w.magnitude() == null ? null : tensor(w.magnitude().clone(), trainable, out).named(VeraKeys.magnitude(path));
            adapters.put(path, new VeraAdapter(this, path, w.projections(),
                    tensor(w.lambdaB().clone(), trainable, out).named(VeraKeys.lambdaB(path)),
                    tensor(w.lambdaD().clone(), trainable, r).named(VeraKeys.lambdaD(path)), magnitude,
                    e.getValue().inFeatures(), trainable ? AdapterInjector.dropout(config, seed, path) : null));
        }
        return adapters;
    }

    @Override
    public String moduleKey(String path) {
        return VeraKeys.lambdaB(path);
    }

    private static Tensor tensor(float[] data, boolean trainable, int... shape) {
        return trainable ? Tensor.param(data, shape) : Tensor.of(data, shape);
    }
}
