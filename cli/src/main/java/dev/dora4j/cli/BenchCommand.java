package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.autograd.OpProfile;
import dev.dora4j.generate.DecodeBenchmark;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.PeakFlops;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.ModelMemory;
import dev.dora4j.train.TrainBenchmark;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Training speed of a randomly initialised model (from an HF config.json) on random tokens.")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "Hugging Face config.json (required unless --peak).")
    Path config;
    @Option(names = "--method", defaultValue = "dora", description = "dora, lora, vera, dvora or full (default: ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--rank", defaultValue = "16", description = "Default: ${DEFAULT-VALUE}.")
    int rank;
    @Option(names = "--alpha", defaultValue = "32", description = "Default: ${DEFAULT-VALUE}.")
    float alpha;
    @Option(names = "--targets", split = ",", defaultValue = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
            description = "Default: ${DEFAULT-VALUE}.")
    List<String> targets;
    @Option(names = "--batch", defaultValue = "4", description = "Default: ${DEFAULT-VALUE}.")
    int batch;
    @Option(names = "--seq-len", defaultValue = "256", description = "Default: ${DEFAULT-VALUE}.")
    int seqLen;
    @Option(names = "--steps", defaultValue = "5", description = "Timed steps (default: ${DEFAULT-VALUE}).")
    int steps;
    @Option(names = "--warmup", defaultValue = "2", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;
    @Option(names = "--threads", defaultValue = "2", description = "Default: ${DEFAULT-VALUE}.")
    int threads;
    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;
    @Option(names = "--activation-checkpointing", description = "Recompute each layer in backward.")
    boolean activationCheckpointing;
    @Option(names = "--profile", description = "Time every op, forward and backward, over the timed steps (with"
            + " --compare-methods: each method's adapter ops apart, the shared ops averaged over the models).")
    boolean profile;
    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "f32|bf16|f16",
            description = "Storage of the random model's matrices, as a checkpoint in this dtype (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--quantize", paramLabel = "nf4|fp4|int8",
            description = "Quantise the decoder layers' linear weights at load, as bitsandbytes does.")
    String quantize;

    @Option(names = "--double-quant", description = "With --quantize nf4|fp4: quantise the absmax values again.")
    boolean doubleQuant;

    @Option(names = "--peak", description = "Measure this machine's FMA peak (1 thread and --threads) and GEMM ceiling instead.")
    boolean peak;

    @Option(names = "--decode", paramLabel = "TOKENS",
            description = "Measure greedy decoding (batch 1, KV cache) of TOKENS tokens instead of training, in each of --storages.")
    Integer decode;

    @Option(names = "--compare-storages",
            description = "Time training steps of the model in each of --storages instead, one model each, one step of"
                    + " each in turn and then in reverse order (--warmup steps, then --steps rounds of two steps each):"
                    + " ratios that the machine's drift cancels.")
    boolean compareStorages;

    @Option(names = "--storages", split = ",", defaultValue = "f32,bf16,nf4", paramLabel = "S,...",
            description = "With --decode or --compare-storages: f32, bf16, f16 (the whole model in that dtype) or nf4,"
                    + " fp4, int8 (BF16 model, linear weights quantised), taken in turn each round (default:"
                    + " ${DEFAULT-VALUE}).")
    List<String> storages;

    @Option(names = "--compare-methods", split = ",", paramLabel = "M,...",
            description = "Time training steps of the model under each of these methods instead (for example lora,dora),"
                    + " one model each with --dtype and --quantize, one step of each in turn and then in reverse order"
                    + " (--warmup steps, then --steps rounds of two steps each): ratios that the machine's drift and a"
                    + " process's speed cancel.")
    List<String> compareMethods;

    @Option(names = "--rounds", defaultValue = "3", description = "With --decode: rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        Parallel.setThreads(threads);
        if (peak) return peak();
        if (config == null) throw new DoraException("bench needs --config FILE (or --peak)");
        if (decode != null) return decode();
        if (compareStorages) return compareStorages();
        if (compareMethods != null) return compareMethods();
        LlamaConfig c = LlamaConfig.read(config);
        WeightStorage tables = tableStorage();
        LinearStorage linears = linearStorage();
        MemoryCheck.weightsFit(ModelMemory.weightBytes(c, tables, linears), config.getFileName() + " as " + tables
                + (quantize == null ? "" : " with " + linears.storage() + " linear weights"));
        var r = TrainBenchmark.run(c, new TrainBenchmark.Settings(method, rank, alpha, targets, batch, seqLen, steps, warmup,
                seed, activationCheckpointing, profile, tables, linears));
        double rss = Resources.peakRssMb();
        // this machine's FMA peak on the run's threads, measured after it (the best of 20 windows of 50 ms)
        double measuredPeak = PeakFlops.fma(threads, 1000);
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("method", r.method());
            o.put("config", config.toString());
            o.put("batch", batch);
            o.put("seq_len", seqLen);
            o.put("threads", threads);
            o.put("dtype", tables.name());
            if (linears.storage() == null) o.putNull("quantize");
            else o.put("quantize", linears.storage().name());
            o.put("tokens_per_s", r.tokensPerSecond());
            o.put("step_s_median", r.stepSecondsMedian());
            var arr = o.putArray("step_s");
            for (double t : r.stepSeconds()) arr.add(t);
            // what the JVM did within each timed step: JIT compilation (ms, on threads sharing the cores) and GC cycles
            var jit = o.putArray("step_jit_ms");
            var gcs = o.putArray("step_gc_cycles");
            for (var a : r.stepJvm()) {
                jit.add(a.compileMs());
                gcs.add(a.gcCycles());
            }
            o.put("train_flops", r.trainFlops());
            o.put("gflops_per_s", r.gflopsPerSecond());
            o.put("fma_peak_gflops", measuredPeak);
            o.put("fraction_of_peak", r.gflopsPerSecond() / measuredPeak);
            o.put("peak_rss_mb", rss);
            o.put("peak_heap_mb", r.peakHeapMb());
            putOrNull(o, "peak_live_heap_mb", r.peakLiveHeapMb());
            o.put("bytes_per_trainable_param", r.bytesPerTrainableParam());
            o.put("bytes_per_frozen_param", r.bytesPerFrozenParam());
            putOrNull(o, "soft_max_heap_mb", dev.dora4j.train.HeapBudget.softMaxMb());
            o.put("trainable_params", r.trainableParams());
            o.put("total_params", r.totalParams());
            if (profile) {
                ObjectNode p = o.putObject("profile_s_per_step");
                r.profile().forEach((k, v) -> p.put(k, v[0] / steps));
            }
            System.out.println(o);
        } else {
            System.out.printf("%s %s: median step %.3f s, %.0f tokens/s, %.1f GFLOP/s (%.0f %% of this machine's FMA peak, "
                    + "%.0f GFLOP/s on %d threads), peak RSS %.0f MB, peak heap %.0f MB "
                    + "(live after GC %.0f MB), %,d of %,d parameters trainable (%.1f bytes each with gradient and optimizer "
                    + "state; %.1f bytes per frozen parameter)%n", r.method(), config.getFileName(), r.stepSecondsMedian(),
                    r.tokensPerSecond(), r.gflopsPerSecond(), 100 * r.gflopsPerSecond() / measuredPeak, measuredPeak, threads,
                    rss, r.peakHeapMb(),
                    r.peakLiveHeapMb(), r.trainableParams(), r.totalParams(), r.bytesPerTrainableParam(), r.bytesPerFrozenParam());
            if (profile) {
                double total = r.stepSecondsMedian() * steps;
                r.profile().entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                        .forEach(e -> System.out.printf("  %-26s %8.3f s/step  %5.1f %%  %6.0f calls/step%n", e.getKey(),
                                e.getValue()[0] / steps, 100 * e.getValue()[0] / total, e.getValue()[1] / steps));
            }
        }
        return 0;
    }

    // --storages as (name, model dtype, linear storage), checked to fit the heap together
    private List<DecodeBenchmark.Variant> storageVariants(LlamaConfig c) {
        List<DecodeBenchmark.Variant> variants = new java.util.ArrayList<>();
        long largest = 0;
        for (String name : storages) {
            LinearStorage linears;
            WeightStorage dtype;
            try {
                dtype = LinearStorage.parse(name, null, false).storage();
                linears = LinearStorage.AS_STORED;
            } catch (IllegalArgumentException notDtype) {
                try {
                    linears = LinearStorage.parse(null, name, false);
                } catch (IllegalArgumentException e) {
                    throw new DoraException("--storages: '" + name + "' is none of f32, bf16, f16, nf4, fp4, int8");
                }
                dtype = WeightStorage.BF16;
            }
            variants.add(new DecodeBenchmark.Variant(name, dtype, linears));
            largest += ModelMemory.weightBytes(c, dtype, linears);
        }
        MemoryCheck.weightsFit(largest, config.getFileName() + " in " + String.join(", ", storages));
        return variants;
    }

    private int compareStorages() {
        LlamaConfig c = LlamaConfig.read(config);
        List<DecodeBenchmark.Variant> variants = storageVariants(c);
        if (method.equals("full") && variants.stream().anyMatch(v -> v.linears().storage() != null)) {
            throw new DoraException("--compare-storages: nf4, fp4 and int8 keep the frozen base weights quantised under a"
                    + " LoRA/DoRA adapter; --method full trains every weight");
        }
        List<TrainBenchmark.Settings> settings = variants.stream().map(v -> new TrainBenchmark.Settings(method, rank, alpha,
                targets, batch, seqLen, steps, warmup, seed, activationCheckpointing, false, v.dtype(), v.linears())).toList();
        List<double[][]> times = TrainBenchmark.alternating(c, settings);
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("config", config.toString()).put("method", method).put("batch", batch).put("seq_len", seqLen)
                .put("threads", threads);
        printRounds(o.putObject("storages"), variants.stream().map(DecodeBenchmark.Variant::name).toList(), times);
        if (json) System.out.println(o);
        return 0;
    }

    // --dtype: how the random model's matrices are stored
    private WeightStorage tableStorage() {
        try {
            return LinearStorage.parse(dtype, null, false).storage();
        } catch (IllegalArgumentException e) {
            throw new DoraException(e.getMessage());
        }
    }

    // --quantize and --double-quant: how the decoder layers' linear weights are kept
    private LinearStorage linearStorage() {
        try {
            return LinearStorage.parse(null, quantize, doubleQuant);
        } catch (IllegalArgumentException e) {
            throw new DoraException(e.getMessage());
        }
    }

    private int compareMethods() {
        LlamaConfig c = LlamaConfig.read(config);
        WeightStorage tables = tableStorage();
        LinearStorage linears = linearStorage();
        for (String m : compareMethods) {
            if (!m.equals("full") && !PeftMethods.isMethod(m)) {
                throw new DoraException("--compare-methods: no method '" + m + "' (one of " + PeftMethods.ids() + ", full)");
            }
        }
        if (compareMethods.contains("full") && linears.storage() != null) {
            throw new DoraException("--compare-methods: --quantize keeps the frozen base weights quantised under an"
                    + " adapter; full trains every weight");
        }
        MemoryCheck.weightsFit(compareMethods.size() * ModelMemory.weightBytes(c, tables, linears),
                config.getFileName() + " once per method in " + String.join(", ", compareMethods));
        List<TrainBenchmark.Settings> settings = compareMethods.stream().map(m -> new TrainBenchmark.Settings(m, rank,
                alpha, targets, batch, seqLen, steps, warmup, seed, activationCheckpointing, profile, tables, linears)).toList();
        List<double[][]> times = TrainBenchmark.alternating(c, settings);
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("config", config.toString()).put("batch", batch).put("seq_len", seqLen).put("threads", threads)
                .put("dtype", tables.name());
        if (linears.storage() == null) o.putNull("quantize");
        else o.put("quantize", linears.storage().name());
        printRounds(o.putObject("methods"), compareMethods, times);
        if (profile) {
            // per model and timed step: each adapter's ops under its own name, the shared ops averaged over the models
            ObjectNode ops = o.putObject("profile_s_per_step");
            int n = compareMethods.size();
            OpProfile.snapshot().entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                    .forEach(e -> {
                        boolean own = compareMethods.stream().anyMatch(m -> e.getKey().startsWith(m + " "));
                        double perStep = e.getValue()[0] / (2.0 * steps) / (own ? 1 : n);
                        ops.put(e.getKey(), perStep);
                        if (!json) System.out.printf("  %-26s %8.3f s/step%s%n", e.getKey(), perStep, own ? "" : " (mean over the models)");
                    });
        }
        if (json) System.out.println(o);
        return 0;
    }

    // each variant's step times (per round, the mean of its two steps) and their ratio to the first variant's in the
    // same round: into out with the steps as taken, and printed a line per variant unless --json
    private void printRounds(ObjectNode out, List<String> names, List<double[][]> times) {
        double[] first = roundMeans(times.getFirst());
        for (int k = 0; k < names.size(); k++) {
            double[][] pairs = times.get(k);
            double[] t = roundMeans(pairs);
            ObjectNode v = out.putObject(names.get(k));
            var secs = v.putArray("step_s");
            var ratio = v.putArray("ratio_to_first");
            var taken = v.putArray("steps_s_as_taken");
            StringBuilder line = new StringBuilder(String.format("%-5s", names.get(k)));
            for (int i = 0; i < t.length; i++) {
                secs.add(t[i]);
                ratio.add(t[i] / first[i]);
                taken.addArray().add(pairs[i][0]).add(pairs[i][1]);
                line.append(String.format("  round %d: %.3f s (%.2fx)", i + 1, t[i], t[i] / first[i]));
            }
            if (!json) System.out.println(line);
        }
    }

    private static double[] roundMeans(double[][] pairs) {
        double[] out = new double[pairs.length];
        for (int i = 0; i < pairs.length; i++) out[i] = (pairs[i][0] + pairs[i][1]) / 2;
        return out;
    }

    private int decode() {
        LlamaConfig c = LlamaConfig.read(config);
        List<DecodeBenchmark.Variant> variants = storageVariants(c);
        var r = DecodeBenchmark.run(c, variants, decode, rounds, seed);
        double[] base = r.tokensPerSecond().values().iterator().next();
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("config", config.toString());
            o.put("tokens", decode);
            o.put("threads", threads);
            ObjectNode each = o.putObject("storages");
            r.tokensPerSecond().forEach((name, rates) -> {
                ObjectNode v = each.putObject(name);
                var arr = v.putArray("tokens_per_s");
                var ratio = v.putArray("ratio_to_first");
                for (int i = 0; i < rates.length; i++) {
                    arr.add(rates[i]);
                    ratio.add(rates[i] / base[i]);
                }
                v.put("weight_bytes", r.weightBytes().get(name));
            });
            System.out.println(o);
        } else {
            r.tokensPerSecond().forEach((name, rates) -> {
                StringBuilder line = new StringBuilder(String.format("%-5s %,8d MB", name, r.weightBytes().get(name) >> 20));
                for (int i = 0; i < rates.length; i++) {
                    line.append(String.format("  round %d: %.2f tokens/s (%.2fx)", i + 1, rates[i], rates[i] / base[i]));
                }
                System.out.println(line);
            });
        }
        return 0;
    }

    private int peak() {
        double one = PeakFlops.fma(1, 1000), all = PeakFlops.fma(threads, 1000);
        Parallel.setThreads(1);
        double gemmOne = PeakFlops.gemm(1024, 50);
        Parallel.setThreads(threads);
        double gemmAll = PeakFlops.gemm(1024, 100);
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("threads", threads);
            o.put("vector_bits", jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize());
            o.put("fma_peak_gflops_1_thread", one);
            o.put("fma_peak_gflops", all);
            o.put("gemm_gflops_1_thread", gemmOne);
            o.put("gemm_gflops", gemmAll);
            System.out.println(o);
        } else {
            System.out.printf("FMA peak: %.1f GFLOP/s on 1 thread, %.1f on %d; GEMM 1024³: %.1f GFLOP/s on 1 thread "
                    + "(%.0f %% of peak), %.1f on %d (%.0f %%)%n", one, all, threads, gemmOne, 100 * gemmOne / one, gemmAll,
                    threads, 100 * gemmAll / all);
        }
        return 0;
    }

    // a measured value, or JSON null where there was nothing to measure (NaN)
    private static void putOrNull(ObjectNode o, String key, double value) {
        if (Double.isNaN(value)) o.putNull(key);
        else o.put(key, value);
    }
}
