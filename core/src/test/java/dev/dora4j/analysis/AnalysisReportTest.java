package dev.dora4j.analysis;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalysisReportTest {
    @Test
    void writesCsvSummaryAndPlots(@TempDir Path tmp) throws Exception {
        WeightDecomposition.Analysis analysis = WeightDecomposition.run(WeightDecompositionTest.BASE, WeightDecompositionTest.RUNS,
                WeightDecomposition.DEFAULT_MODULES, m -> {});
        Path out = tmp.resolve("analysis");
        List<Path> written = AnalysisReport.write(analysis, out);
        assertThat(written).extracting(p -> p.getFileName().toString()).containsExactly("analysis.csv", "summary.json",
                "decomposition.png", "decomposition-lora.png", "decomposition-dora.png", "decomposition-full.png", "loss.png");
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("no temporary files left").allMatch(n -> !n.startsWith("."));
        }

        List<String> csv = Files.readAllLines(out.resolve("analysis.csv"));
        assertThat(csv.getFirst()).isEqualTo("run,method,step,layer,module,delta_m,delta_d");
        assertThat(csv).hasSize(analysis.points().size() + 1);
        String[] first = csv.get(1).split(",");
        assertThat(List.of(first).subList(0, 5)).containsExactly("lora", "lora", "2", "0", "q_proj");
        assertThat(Double.parseDouble(first[5])).isEqualTo(analysis.points().getFirst().deltaM());

        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertThat(summary.get("modules").toString()).isEqualTo("[\"q_proj\",\"v_proj\"]");
        JsonNode dora = summary.get("runs").get(1);
        assertThat(dora.get("run").asText()).isEqualTo("dora");
        assertThat(dora.get("steps").toString()).isEqualTo("[3,6]");
        assertThat(dora.get("pearson").asDouble()).isEqualTo(analysis.summaries().get(1).pearson());
        assertThat(dora.get("final_eval_loss").asDouble()).isEqualTo(2.7);
        assertThat(dora.get("final_train_loss").isNumber()).isTrue();
        JsonNode step6 = dora.get("per_step").get(1);
        assertThat(step6.get("step").asLong()).isEqualTo(6);
        Summary expected6 = Summary.fit(analysis.points().stream().filter(p -> p.run().equals("dora") && p.step() == 6).toList());
        assertThat(step6.get("slope").asDouble()).isEqualTo(expected6.slope());
        assertThat(step6.get("mean_delta_d").asDouble()).isEqualTo(expected6.meanDeltaD());

        BufferedImage figure = ImageIO.read(out.resolve("decomposition.png").toFile());
        assertThat(figure.getWidth()).isEqualTo(3 * DecompositionPlot.WIDTH);
        assertThat(figure.getHeight()).isEqualTo(DecompositionPlot.HEIGHT);
        BufferedImage loss = ImageIO.read(out.resolve("loss.png").toFile());
        assertThat(loss.getWidth()).isEqualTo(LossPlot.WIDTH);
        assertThat(ImageIO.read(out.resolve("decomposition-full.png").toFile()).getWidth()).isEqualTo(DecompositionPlot.WIDTH);
    }
}
