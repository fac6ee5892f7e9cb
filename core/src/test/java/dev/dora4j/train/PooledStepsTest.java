package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.autograd.Tape;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.model.RandomModels;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.BufferPool;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Training steps whose buffers come from a {@link BufferPool} (recycled as backward goes and from step to step) give
 * the same bits as steps on fresh arrays: losses, and every trained tensor after each step. Batches change length
 * in between, so buffers of lengths the pool kept meet a step of another shape.
 */
class PooledStepsTest {
    private static final String CONFIG = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
             "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "vocab_size": 300, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
             "tie_word_embeddings": false, "hidden_act": "silu"}""";
    private static final int[] SEQ_LENS = {40, 40, 24, 24, 40, 40};

    private static final class Run {
        final LlamaModel model;
        final List<Parameter> params = new ArrayList<>();
        final Optimizer opt;

        Run(LlamaConfig config, String method, float dropout, boolean checkpointing) {
            model = RandomModels.llama(config, 7);
            model.activationCheckpointing(checkpointing);
            var settings = AdapterSettings.of(8, 16, dropout,
                    List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), false,
                    "CAUSAL_LM", "random");
            var adapters = AdapterInjector.inject(model.linears(), model.embeddings(),
                    PeftMethods.named(method).newConfig(settings), LlamaModel.OUTPUT_HEAD, 3);
            params.addAll(TrainingRun.adapterParameters(adapters, 1f));
            opt = Optimizer.create("adamw", params, 0.01f);
        }

        float step(int[] ids, int batch, int seqLen, BufferPool pool) {
            for (Parameter p : params) p.tensor().zeroGrad();
            int[] targets = CausalLM.shiftLabels(ids, batch, seqLen);
            Tape tape = pool == null ? Tape.training() : Tape.training(pool);
            var loss = model.loss(tape, ids, targets, batch, seqLen, CausalLM.countTargets(targets));
            float value = loss.data()[0];
            tape.backward(loss);
            if (pool != null) pool.endStep();
            opt.step(1e-2f);
            return value;
        }
    }

    @ParameterizedTest(name = "{0}, dropout {1}, checkpointing {2}")
    @CsvSource({"dora, 0, false", "lora, 0, false", "dora, 0.1, false", "dora, 0, true", "lora, 0, true"})
    void pooledStepsEqualStepsOnFreshArrays(String method, float dropout, boolean checkpointing) throws Exception {
        LlamaConfig config = LlamaConfig.parse(new ObjectMapper().readTree(CONFIG), "config.json");
        Run fresh = new Run(config, method, dropout, checkpointing);
        Run pooled = new Run(config, method, dropout, checkpointing);
        BufferPool pool = new BufferPool();
        SplittableRandom rng = new SplittableRandom(11);
        int batch = 2;
        for (int step = 0; step < SEQ_LENS.length; step++) {
            int seqLen = SEQ_LENS[step];
            int[] ids = rng.ints(batch * seqLen, 0, config.vocabSize()).toArray();
            float a = fresh.step(ids, batch, seqLen, null);
            float b = pooled.step(ids, batch, seqLen, pool);
            assertThat(Float.floatToIntBits(b)).as("loss at step %d", step).isEqualTo(Float.floatToIntBits(a));
            for (int i = 0; i < fresh.params.size(); i++) {
                assertThat(pooled.params.get(i).tensor().data())
                        .as("%s after step %d", fresh.params.get(i).name(), step)
                        .containsExactly(fresh.params.get(i).tensor().data());
            }
        }
        long[] bytes = pool.reusedAndAllocatedBytes();
        // every step of the previous step's length takes (nearly) everything from the pool: half the steps here
        assertThat(bytes[0]).as("bytes reused").isGreaterThan(bytes[1] * 9 / 10);
        assertThat(pool.freeBytes()).as("bytes held free after the last step").isPositive();
    }

    /**
     * Once a shape has been seen, its steps take every buffer from the pool: outputs of ops that need no gradient (the
     * embedding, the first layer's input norm) go back too, instead of staying lent and becoming garbage.
     */
    @ParameterizedTest(name = "{0}, checkpointing {1}")
    @CsvSource({"dora, false", "lora, false", "dora, true"})
    void stepsOfASeenShapeAllocateNothing(String method, boolean checkpointing) throws Exception {
        LlamaConfig config = LlamaConfig.parse(new ObjectMapper().readTree(CONFIG), "config.json");
        Run run = new Run(config, method, 0f, checkpointing);
        BufferPool pool = new BufferPool();
        SplittableRandom rng = new SplittableRandom(5);
        int batch = 2, seqLen = 40;
        long allocated = 0;
        for (int step = 0; step < 4; step++) {
            run.step(rng.ints(batch * seqLen, 0, config.vocabSize()).toArray(), batch, seqLen, pool);
            long now = pool.reusedAndAllocatedBytes()[1];
            if (step >= 2) assertThat(now).as("bytes allocated by the pool up to step %d", step).isEqualTo(allocated);
            allocated = now;
        }
    }
}
