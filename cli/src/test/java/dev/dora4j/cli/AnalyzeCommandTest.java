package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalyzeCommandTest {
    static final Path FIXTURES = Path.of("../core/src/test/resources/fixtures/analysis");
    static final Path BASE = Path.of("../core/src/test/resources/fixtures/models/llama_gqa");

    @Test
    void helpExitsZero() {
        CliTest.Run r = CliTest.run("analyze", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage:").contains("--base").contains("--run").contains("--modules");
    }

    @Test
    void analysesRunsIntoTheOutputDirectory(@TempDir Path tmp) {
        Path out = tmp.resolve("analysis");
        CliTest.Run r = CliTest.run("analyze", "--base", BASE.toString(), "--run", FIXTURES.resolve("lora").toString(), "--run",
                FIXTURES.resolve("full").toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("pearson").containsPattern("lora +lora +12 ").containsPattern("full +full +8 ");
        assertThat(r.out().strip()).endsWith(out.toString());
        assertThat(r.err()).contains("layer 2/2 done").contains("wrote 6 files");
        for (String f : new String[] {"analysis.csv", "summary.json", "decomposition.png", "decomposition-lora.png",
            "decomposition-full.png", "loss.png"}) {
            assertThat(out.resolve(f)).isRegularFile();
        }
    }

    @Test
    void jsonPrintsTheSummaryAlone(@TempDir Path tmp) throws Exception {
        CliTest.Run r = CliTest.run("analyze", "--json", "--base", BASE.toString(), "--run", FIXTURES.resolve("dora").toString(),
                "--modules", "v_proj", "--out", tmp.resolve("a").toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode summary = new ObjectMapper().readTree(r.out());
        assertThat(summary.get("runs").get(0).get("method").asText()).isEqualTo("dora");
        assertThat(summary.get("runs").get(0).get("points").asInt()).isEqualTo(4);
        assertThat(summary.get("modules").toString()).isEqualTo("[\"v_proj\"]");
    }

    @Test
    void badInputIsOneLineAndWritesNothing(@TempDir Path tmp) {
        Path out = tmp.resolve("analysis");
        CliTest.Run r = CliTest.run("analyze", "--base", BASE.toString(), "--run", tmp.resolve("missing").toString(), "--out",
                out.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("error: ").contains("missing").contains("run directory not found");
        assertThat(out).doesNotExist();

        CliTest.Run module = CliTest.run("analyze", "--base", BASE.toString(), "--run", FIXTURES.resolve("lora").toString(),
                "--modules", "q_proj,gate_proj", "--out", out.toString());
        assertThat(module.code()).isEqualTo(1);
        assertThat(module.err()).contains("gate_proj").contains("adapter_model.safetensors");
        assertThat(out).doesNotExist();
    }

    @Test
    void missingRequiredOptionsAreAUsageError() {
        CliTest.Run r = CliTest.run("analyze", "--base", BASE.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--run").contains("--out");
    }
}
