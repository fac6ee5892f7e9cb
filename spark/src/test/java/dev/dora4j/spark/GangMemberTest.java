package dev.dora4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GangMemberTest {
    @Test
    void greetingsRoundTripAndGiveTheRingInRankOrder() {
        GangMember a = new GangMember("10.0.0.1", 4001, "m1", "d1", 6), b = new GangMember("10.0.0.2", 4002, "m1", "d1", 0);
        assertThat(GangMember.decode(a.encode())).isEqualTo(a);
        assertThat(GangMember.agree(List.of(a, b), "/models/x", "/data/y"))
                .containsExactly(new InetSocketAddress("10.0.0.1", 4001), new InetSocketAddress("10.0.0.2", 4002));
    }

    @Test
    void aRankThatSeesAnotherBaseModelFailsTheGangByName() {
        GangMember a = new GangMember("10.0.0.1", 4001, "m1", "d1", 0), b = new GangMember("10.0.0.2", 4002, "m2", "d1", 0);
        assertThatThrownBy(() -> GangMember.agree(List.of(a, b), "/models/x", "/data/y")).isInstanceOf(DoraException.class)
                .hasMessage("rank 1 (10.0.0.2) sees a different base model at /models/x (fingerprint m2) than rank 0 (m1) on 10.0.0.1;"
                        + " every worker needs the same model files");
    }

    @Test
    void aRankThatSeesOtherDataFailsTheGangByName() {
        GangMember a = new GangMember("h", 1, "m", "d1", 0), b = new GangMember("h", 2, "m", "d1", 0), c = new GangMember("k", 3, "m", "d9", 0);
        assertThatThrownBy(() -> GangMember.agree(List.of(a, b, c), "/m", "/data/y")).hasMessageStartingWith(
                "rank 2 (k) sees different training data at /data/y (fingerprint d9)");
    }

    @Test
    void fingerprintsFollowTheContent(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        Files.writeString(dir.resolve("config.json"), "{}");
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 3});
        String first = Fingerprint.of(dir);
        assertThat(Fingerprint.of(dir)).isEqualTo(first);
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 4});
        assertThat(Fingerprint.of(dir)).isNotEqualTo(first);
        assertThatThrownBy(() -> Fingerprint.of(tmp.resolve("missing"))).hasMessageEndingWith("no such file or directory on this worker");
    }
}
