package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.data.Example;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.HfReferenceTest;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Optimizer steps on a small random Llama against PyTorch (tools/gen_train_fixtures.py): one SGD
 * step and three AdamW steps for LoRA, DoRA (norm detached) and full fine-tuning, clipping, a
 * separate magnitude learning rate, and a batch of 8 accumulated over 4 micro-batches. Tolerances
 * are absolute (relative above 1): 1e-5, except full fine-tuning and clipping at 1e-4, where AdamW
 * takes near-full steps on entries whose gradients are close to its epsilon (clipping shrinks every
 * gradient to about 1 %), so float32 rounding of those gradients moves the update by ~1e-5 a step.
 */
class TrainReferenceTest {
    static Path fixture(String name) throws Exception {
        return Path.of(TrainReferenceTest.class.getResource("/fixtures/train/" + name + ".safetensors").toURI());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "sgd_lora, 1e-5", "sgd_dora, 1e-5", "sgd_full, 1e-5",
        "adamw_lora, 1e-5", "adamw_dora, 1e-5", "adamw_full, 1e-4",
        "adamw_dora_clip, 1e-4", "adamw_dora_magratio, 1e-5", "accum_dora, 1e-5"})
    void updatedTensorsMatchPyTorch(String name, double tolerance) throws Exception {
        checkRun(name, fixture(name), LlamaLoader.load(HfReferenceTest.dir("llama_gqa")), tolerance);
    }

    /** QDoRA: the sgd_dora step on llama_gqa quantised to NF4 (blocks of 64, double quantisation) at load. */
    @Test
    void qdoraStepOnAnNf4BaseMatchesPyTorch() throws Exception {
        Path fixture = Path.of(TrainReferenceTest.class.getResource("/fixtures/bnb/qdora_sgd.safetensors").toURI());
        LlamaModel nf4 = LlamaLoader.load(HfReferenceTest.dir("llama_gqa"), new LinearStorage(WeightStorage.NF4, 64, true));
        checkRun("qdora_sgd", fixture, nf4, 1e-5);
    }

    private static void checkRun(String name, Path fixture, LlamaModel model, double tolerance) throws Exception {
        Path gqa = HfReferenceTest.dir("llama_gqa");
        try (SafetensorsFile ref = SafetensorsFile.open(fixture);
                SafetensorsFile batch = SafetensorsFile.open(name.startsWith("accum") ? fixture(name) : gqa.resolve("reference.safetensors"))) {
            Map<String, String> meta = ref.metadata();
            String method = meta.get("method");
            int steps = Integer.parseInt(meta.get("steps"));
            List<Parameter> params;
            if (method.equals("full")) {
                model.trainAll(true);
                params = TrainingRun.fullParameters(model);
            } else {
                var adapters = AdapterInjector.attach(model.linears(), AdapterFiles.read(gqa.resolve("adapter_" + method)),
                        LlamaModel.OUTPUT_HEAD, true, 0);
                params = TrainingRun.adapterParameters(adapters, Float.parseFloat(meta.get("magnitude_lr_ratio")));
            }
            int[] ids = HfReferenceTest.ints(batch, "input_ids");
            int[] labels = batch.contains("labels") && name.startsWith("accum") ? HfReferenceTest.ints(batch, "labels") : ids;
            int rows = (int) batch.info("input_ids").shape()[0], seq = (int) batch.info("input_ids").shape()[1];
            List<Example> examples = new ArrayList<>();
            for (int b = 0; b < rows; b++) {
                examples.add(new Example("row " + b, java.util.Arrays.copyOfRange(ids, b * seq, (b + 1) * seq),
                        java.util.Arrays.copyOfRange(labels, b * seq, (b + 1) * seq)));
            }
            float lr = Float.parseFloat(meta.get("lr"));
            float wd = Float.parseFloat(meta.get("weight_decay"));
            TrainConfig cfg = new TrainConfig(null, null, "-", null, method.equals("full") ? "full" : method, 4, 8, 0f, List.of("q_proj"),
                    false, lr, meta.get("optimizer"), wd, 1, steps, rows, name.startsWith("accum") ? 2 : rows, seq, 0, "constant",
                    Float.parseFloat(meta.get("max_grad_norm")), 0, false, false, null, 0, 0, 0,
                    Float.parseFloat(meta.get("magnitude_lr_ratio")), false, false);
            Optimizer optimizer = Optimizer.create(cfg.optimizer(), params, wd);
            Trainer trainer = new Trainer(cfg, model, examples, null, optimizer, null, null);
            List<Trainer.StepMetrics> seen = new ArrayList<>();
            trainer.run(seen::add);

            assertThat(seen).hasSize(steps);
            for (int k = 1; k <= steps; k++) {
                assertThat(seen.get(k - 1).loss()).as("loss before step " + k)
                        .isCloseTo(ref.readFloats("loss." + k)[0], org.assertj.core.data.Offset.offset(2e-5));
                assertThat(seen.get(k - 1).gradNorm()).as("grad norm at step " + k)
                        .isCloseTo(ref.readFloats("grad_norm." + k)[0], org.assertj.core.data.Offset.offset(1e-4));
            }
            int compared = 0;
            for (Parameter p : params) {
                float[] want = ref.readFloats(p.name());
                float[] got = p.tensor().data();
                for (int i = 0; i < want.length; i++) {
                    assertThat((double) got[i]).as(p.name() + "[" + i + "]")
                            .isCloseTo(want[i], org.assertj.core.data.Offset.offset(tolerance * Math.max(1, Math.abs(want[i]))));
                }
                compared++;
            }
            long inFile = ref.tensors().stream().map(TensorInfo::name)
                    .filter(n -> !n.startsWith("loss.") && !n.startsWith("grad_norm.") && !n.equals("input_ids") && !n.equals("labels")).count();
            assertThat(compared).isEqualTo(inFile);
        }
    }
}
