package dev.dora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.generate.Generator;
import dev.dora4j.generate.Sampler;
import dev.dora4j.model.CausalLM;
import dev.dora4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text with a KV cache: greedy at temperature 0, else sampling with optional top-p.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA/DoRA adapter, applied unmerged.")
    Path adapter;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompt text (default: start from BOS alone).")
    String prompt;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "256", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "0 = greedy (default).")
    float temperature;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print {\"ids\": [...], \"text\": \"...\"} with the generated tokens only.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (maxNewTokens < 0) throw new DoraException("--max-new-tokens must be >= 0");
        CausalLM model = modelOptions.loadModel();
        if (adapter != null) ModelOptions.attachAdapter(model, adapter);
        try (Tokenizer tok = modelOptions.loadTokenizer()) {
            int[] promptIds = prompt == null || prompt.isEmpty() ? new int[] {tok.bosId()} : tok.encode(prompt, true, false);
            Generator gen = new Generator(model, promptIds.length + maxNewTokens);
            var streamer = tok.streamDecoder();
            long start = System.nanoTime();
            int[] ids = gen.generate(promptIds, maxNewTokens, new Sampler(temperature, topP, seed), t -> t == tok.eosId(),
                    json ? null : t -> {
                        System.out.print(streamer.next(t));
                        System.out.flush();
                    });
            double seconds = (System.nanoTime() - start) / 1e9;
            String text = tok.decode(ids);
            if (json) {
                ObjectNode o = new ObjectMapper().createObjectNode();
                var arr = o.putArray("ids");
                for (int id : ids) arr.add(id);
                o.put("text", text);
                System.out.println(o);
            } else {
                System.out.println();
            }
            System.err.printf("%d tokens in %.2f s (%.1f tokens/s, prompt of %d tokens included)%n", ids.length, seconds,
                    (ids.length + promptIds.length) / seconds, promptIds.length);
        }
        return 0;
    }
}
