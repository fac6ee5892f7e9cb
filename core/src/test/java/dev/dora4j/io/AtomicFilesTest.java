package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<Path> listing(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.sorted().toList();
        }
    }

    @Test
    void writesANewFileAndCreatesParents() throws IOException {
        Path target = dir.resolve("a/b/out.json");
        AtomicFiles.writeString(target, "{\"r\": 8}");
        assertThat(target).hasContent("{\"r\": 8}");
        assertThat(listing(target.getParent())).containsExactly(target);
    }

    @Test
    void replacesAnExistingFile() throws IOException {
        Path target = dir.resolve("out.txt");
        Files.writeString(target, "old");
        AtomicFiles.write(target, tmp -> Files.writeString(tmp, "new"));
        assertThat(target).hasContent("new");
        assertThat(listing(dir)).containsExactly(target);
    }

    @Test
    void writerGetsAHiddenTemporaryBesideTheTarget() {
        Path target = dir.resolve("out.bin");
        AtomicFiles.write(target, tmp -> {
            assertThat(tmp.getParent()).isEqualTo(dir.toAbsolutePath());
            assertThat(tmp.getFileName().toString()).matches("\\.out\\.bin\\.tmp-[0-9a-f]{16}");
            assertThat(tmp).doesNotExist();
            Files.write(tmp, new byte[] {1});
        });
        assertThat(target).hasBinaryContent(new byte[] {1});
    }

    @Test
    void failureMidwayKeepsTheOldFileByteForByteAndRemovesTheTemporary() throws IOException {
        Path target = dir.resolve("model.safetensors");
        byte[] old = {9, 8, 7, 6, 5, 4, 3, 2, 1};
        Files.write(target, old);
        assertThatThrownBy(() -> AtomicFiles.write(target, tmp -> {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                out.write(new byte[4096]);
                throw new IOException("simulated device error");
            }
        }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: IOException: simulated device error;"
                        + " any previous content is unchanged");
        assertThat(target).hasBinaryContent(old);
        assertThat(listing(dir)).containsExactly(target);
    }

    @Test
    void runtimeFailuresAreWrappedAndDoraExceptionsPassThrough() throws IOException {
        Path target = dir.resolve("x.json");
        assertThatThrownBy(() -> AtomicFiles.write(target, tmp -> {
            Files.writeString(tmp, "partial");
            throw new IllegalStateException("boom");
        }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: java.lang.IllegalStateException: boom;"
                        + " any previous content is unchanged");
        DoraException own = new DoraException("x.json: tensor 'w': bad");
        assertThatThrownBy(() -> AtomicFiles.write(target, tmp -> {
            Files.writeString(tmp, "partial");
            throw own;
        })).isSameAs(own);
        assertThat(listing(dir)).isEmpty();
    }

    @Test
    void diskFullIsNamed() throws IOException {
        Path target = dir.resolve("big.bin");
        assertThatThrownBy(() -> AtomicFiles.write(target, tmp -> {
            Files.write(tmp, new byte[16]);
            throw new IOException("No space left on device");
        }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: disk full (IOException: No space left on device);"
                        + " any previous content is unchanged");
        assertThat(listing(dir)).isEmpty();
    }

    @Test
    void writerThatCreatesNothingIsAnError() {
        Path target = dir.resolve("nothing.txt");
        assertThatThrownBy(() -> AtomicFiles.write(target, tmp -> { }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: the writer did not create a file");
    }

    @Test
    void writeDirectoryCreatesANewDirectory() throws IOException {
        Path target = dir.resolve("out/adapter");
        AtomicFiles.writeDirectory(target, tmp -> {
            Files.writeString(tmp.resolve("adapter_config.json"), "{}");
            Files.createDirectories(tmp.resolve("sub"));
            Files.writeString(tmp.resolve("sub/x.txt"), "x");
        });
        assertThat(target.resolve("adapter_config.json")).hasContent("{}");
        assertThat(target.resolve("sub/x.txt")).hasContent("x");
        assertThat(listing(target.getParent())).containsExactly(target);
    }

    @Test
    void writeDirectoryReplacesTheOldDirectoryCompletely() throws IOException {
        Path target = dir.resolve("adapter");
        Files.createDirectories(target.resolve("nested"));
        Files.writeString(target.resolve("stale.bin"), "stale");
        Files.writeString(target.resolve("nested/old.txt"), "old");
        AtomicFiles.writeDirectory(target, tmp -> Files.writeString(tmp.resolve("fresh.txt"), "fresh"));
        assertThat(listing(target)).containsExactly(target.resolve("fresh.txt"));
        assertThat(listing(dir)).containsExactly(target);
    }

    @Test
    void failedWriteDirectoryKeepsTheOldDirectory() throws IOException {
        Path target = dir.resolve("adapter");
        Files.createDirectories(target);
        Files.writeString(target.resolve("keep.txt"), "keep");
        assertThatThrownBy(() -> AtomicFiles.writeDirectory(target, tmp -> {
            Files.writeString(tmp.resolve("half.txt"), "half");
            throw new IOException("interrupted");
        }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: IOException: interrupted; any previous content is unchanged");
        assertThat(listing(target)).containsExactly(target.resolve("keep.txt"));
        assertThat(target.resolve("keep.txt")).hasContent("keep");
        assertThat(listing(dir)).containsExactly(target);
    }

    @Test
    void writeDirectoryRefusesToReplaceAFile() throws IOException {
        Path target = dir.resolve("adapter");
        Files.writeString(target, "a file");
        assertThatThrownBy(() -> AtomicFiles.writeDirectory(target, tmp -> { }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: it exists and is not a directory");
        assertThat(target).hasContent("a file");
        assertThat(listing(dir)).containsExactly(target);
    }
}
