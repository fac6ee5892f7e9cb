package dev.dora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.model.QuantizedWeights;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.PeftKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print the config, every tensor's name, dtype, shape and bytes, and parameter counts of a model or adapter directory or a .safetensors file.")
final class InspectCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Parameters(paramLabel = "PATH", description = "Model directory, adapter directory or .safetensors file.")
    Path path;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        ObjectNode report = JSON.createObjectNode();
        report.put("path", path.toString());
        List<TensorInfo> tensors = new ArrayList<>();
        List<QuantizedWeights.Entry> quantized = List.of();
        if (Files.isRegularFile(path)) {
            report.put("kind", "safetensors");
            try (SafetensorsFile f = SafetensorsFile.open(path)) {
                tensors.addAll(f.tensors());
            }
        } else if (Files.isRegularFile(path.resolve(AdapterConfig.FILE_NAME))) {
            report.put("kind", "adapter");
            AdapterFiles.Loaded loaded = AdapterFiles.read(path);
            report.set("config", readJson(path.resolve(AdapterConfig.FILE_NAME)));
            report.put("method", loaded.config().method().id());
            report.put("modules", loaded.modules().size());
            long shared = 0, trained = 0;
            try (SafetensorsFile f = SafetensorsFile.open(path.resolve(AdapterFiles.WEIGHTS_FILE))) {
                tensors.addAll(f.tensors());
                for (TensorInfo t : f.tensors()) {
                    if (loaded.config().method().sharedKeys().contains(t.name())) shared += t.numel();
                    else if (!t.name().endsWith(PeftKeys.BASE_LAYER_WEIGHT)) trained += t.numel();
                }
            }
            // VeRA's projections are frozen and shared by every module; a saved base table is a copy, not trained
            report.put("trained_parameters", trained);
            report.put("shared_frozen_parameters", shared);
        } else if (Files.isRegularFile(path.resolve("config.json"))) {
            report.put("kind", "model");
            report.set("config", readJson(path.resolve("config.json")));
            try (ShardedSafetensors model = ShardedSafetensors.open(path)) {
                for (String name : model.names()) tensors.add(model.info(name));
                report.put("shards", model.files().size());
                quantized = QuantizedWeights.of(model);
            }
        } else {
            throw new DoraException(path + ": neither a .safetensors file nor a directory with config.json or adapter_config.json");
        }
        long params = 0, bytes = 0;
        Map<String, QuantizedWeights.Entry> byWeight = new HashMap<>();
        Set<String> stateTensors = new HashSet<>();
        for (QuantizedWeights.Entry q : quantized) {
            byWeight.put(q.name(), q);
            stateTensors.addAll(q.stateTensors());
        }
        ArrayNode list = report.putArray("tensors");
        for (TensorInfo t : tensors) {
            QuantizedWeights.Entry q = byWeight.get(t.name());
            params += q != null ? q.shape()[0] * q.shape()[1] : stateTensors.contains(t.name()) ? 0 : t.numel();
            bytes += t.byteSize();
            ObjectNode o = list.addObject();
            o.put("name", t.name());
            o.put("dtype", t.dtypeName());
            ArrayNode shape = o.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            o.put("bytes", t.byteSize());
        }
        if (!quantized.isEmpty()) {
            ArrayNode qs = report.putArray("quantized");
            for (QuantizedWeights.Entry q : quantized) {
                ObjectNode o = qs.addObject();
                o.put("name", q.name());
                o.put("storage", q.storage().name());
                o.putArray("shape").add(q.shape()[0]).add(q.shape()[1]);
                o.put("block_size", q.blockSize());
                o.put("double_quant", q.doubleQuant());
                o.put("bytes", q.bytes());
                o.put("bits_per_weight", q.bitsPerWeight());
            }
        }
        report.put("tensor_count", tensors.size());
        report.put("parameters", params);
        report.put("bytes", bytes);
        report.put("bits_per_parameter", params == 0 ? 0 : 8.0 * bytes / params);
        if (json) {
            System.out.println(JSON.writeValueAsString(report));
        } else {
            printText(report, tensors, params);
        }
        return 0;
    }

    private static void printText(ObjectNode report, List<TensorInfo> tensors, long params) throws IOException {
        System.out.println(report.get("kind").asText() + ": " + report.get("path").asText());
        if (report.has("method")) {
            System.out.printf("method: %s, %,d trained parameters%s%n", report.get("method").asText(),
                    report.get("trained_parameters").asLong(), report.get("shared_frozen_parameters").asLong() == 0 ? ""
                            : String.format(", %,d shared frozen", report.get("shared_frozen_parameters").asLong()));
        }
        if (report.has("config")) {
            System.out.println("config:");
            System.out.println(JSON.writeValueAsString(report.get("config")).indent(2).stripTrailing());
        }
        int width = tensors.stream().mapToInt(t -> t.name().length()).max().orElse(4);
        System.out.println("tensors:");
        for (TensorInfo t : tensors) {
            System.out.printf("  %-" + width + "s  %-4s  %-16s %,14d bytes%n", t.name(), t.dtypeName(),
                    Arrays.toString(t.shape()), t.byteSize());
        }
        if (report.has("quantized")) {
            System.out.println("quantized weights (codes and quant state together):");
            for (JsonNode q : report.get("quantized")) {
                String block = q.get("block_size").asInt() > 0 ? "blocks of " + q.get("block_size").asInt()
                        + (q.get("double_quant").asBoolean() ? ", double quant" : "") : "per row";
                System.out.printf("  %-" + width + "s  %-4s  %-16s %,14d bytes  %5.2f bits per weight (%s)%n",
                        q.get("name").asText(), q.get("storage").asText(), q.get("shape").toString().replace(",", ", "),
                        q.get("bytes").asLong(), q.get("bits_per_weight").asDouble(), block);
            }
        }
        System.out.printf("%d tensors, %,d parameters, %,d bytes (%.2f bits per parameter)%n", tensors.size(), params,
                report.get("bytes").asLong(), report.get("bits_per_parameter").asDouble());
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}
