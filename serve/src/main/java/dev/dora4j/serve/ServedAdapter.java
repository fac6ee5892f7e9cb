package dev.dora4j.serve;

import dev.dora4j.DoraException;
import dev.dora4j.model.CausalLM;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A LoRA or DoRA adapter loaded for serving, frozen: per adapted layer its A, B and scaling, and for DoRA the
 * per-row scale {@code m / n} with {@code n = ‖W + s·B·A‖}, computed once here. It is never attached to the
 * shared model; {@link MixedLinearForward} adds its delta to the rows of a batch that use it.
 */
public final class ServedAdapter {
    /** One layer's frozen adapter. loraA: [r, in], loraB: [out, r], scale: [out] (m/n) for DoRA, null for LoRA. */
    record Delta(float[] loraA, float[] loraB, int rank, float scaling, float[] scale) {}

    private final String name;
    private final Path dir;
    private final String method;
    private final int maxRank;
    private final Map<Linear, Delta> deltas;

    private ServedAdapter(String name, Path dir, String method, int maxRank, Map<Linear, Delta> deltas) {
        this.name = name;
        this.dir = dir;
        this.method = method;
        this.maxRank = maxRank;
        this.deltas = deltas;
    }

    /**
     * Reads the PEFT adapter in {@code dir} for {@code model}. The file is checked against the model as
     * {@code generate --adapter} checks it; errors name the file and tensor.
     */
    public static ServedAdapter load(String name, Path dir, CausalLM model) {
        Map<String, Linear> standIns = standIns(model);
        return of(name, dir, model, standIns, loraOnly(
                AdapterInjector.attach(standIns, AdapterFiles.read(dir), model.outputHead(), false, 0), dir.toString()));
    }

    // the server's mixed batches compute LoRA and DoRA deltas; another method's adapter is refused by name
    private static Map<String, LoraAdapter> loraOnly(Map<String, ? extends Adapter> adapters, String where) {
        Map<String, LoraAdapter> lora = new LinkedHashMap<>();
        for (var e : adapters.entrySet()) {
            if (!(e.getValue() instanceof LoraAdapter a)) {
                throw new DoraException(where + ": serve runs LoRA and DoRA adapters; module '" + e.getKey()
                        + "' has a " + e.getValue().getClass().getSimpleName() + " (merge it into the model instead)");
            }
            lora.put(e.getKey(), a);
        }
        return lora;
    }

    /**
     * A random adapter of {@code config}'s shape for benchmarks: A as PEFT initialises it, B and (for DoRA) the
     * magnitude drawn around what training leaves.
     */
    public static ServedAdapter random(String name, CausalLM model, AdapterConfig config, long seed) {
        Map<String, Linear> standIns = standIns(model);
        Map<String, LoraAdapter> adapters = loraOnly(AdapterInjector.inject(standIns, config, model.outputHead(), seed),
                name);
        SplittableRandom rng = new SplittableRandom(seed);
        for (LoraAdapter a : adapters.values()) {
            float[] b = a.loraB().data();
            for (int i = 0; i < b.length; i++) b[i] = (float) (rng.nextDouble() - 0.5) * 0.02f;
            if (a.isDora()) {
                float[] m = a.magnitude().data();
                for (int i = 0; i < m.length; i++) m[i] *= (float) (1 + (rng.nextDouble() - 0.5) * 0.1);
            }
        }
        return of(name, null, model, standIns, adapters);
    }

    // stand-ins share the frozen weights, so the served model's layers stay bare
    private static Map<String, Linear> standIns(CausalLM model) {
        Map<String, Linear> standIns = new LinkedHashMap<>();
        for (var e : model.linears().entrySet()) {
            Linear l = e.getValue();
            standIns.put(e.getKey(), new Linear(l.path(), l.weight(), l.bias()));
        }
        return standIns;
    }

    private static ServedAdapter of(String name, Path dir, CausalLM model, Map<String, Linear> standIns,
            Map<String, LoraAdapter> adapters) {
        Map<String, Linear> served = model.linears();
        Map<Linear, Delta> deltas = new IdentityHashMap<>();
        boolean dora = false;
        int maxRank = 0;
        for (var e : adapters.entrySet()) {
            LoraAdapter a = e.getValue();
            float[] scale = null;
            if (a.isDora()) {
                dora = true;
                float[] norm = a.weightNorm(standIns.get(e.getKey())), m = a.magnitude().data();
                scale = new float[norm.length];
                for (int o = 0; o < norm.length; o++) scale[o] = norm[o] > 0f ? m[o] / norm[o] : 0f;
            }
            maxRank = Math.max(maxRank, a.rank());
            deltas.put(served.get(e.getKey()), new Delta(a.loraA().data(), a.loraB().data(), a.rank(), a.scaling(), scale));
        }
        return new ServedAdapter(name, dir, dora ? "dora" : "lora", maxRank, deltas);
    }

    public String name() {
        return name;
    }

    public Path dir() {
        return dir;
    }

    /** "lora" or "dora". */
    public String method() {
        return method;
    }

    public int maxRank() {
        return maxRank;
    }

    /** This adapter's delta on {@code layer}, or null where it does not adapt that layer. */
    Delta delta(Linear layer) {
        return deltas.get(layer);
    }
}
