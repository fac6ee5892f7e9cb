package dev.dora4j.spark;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * A content hash of a model (a file, or the regular files of a directory, by name) or of a data file, so the ranks of
 * a gang can check that they read the same bytes from their node-local copies: SHA-256 over each file's name, size and
 * CRC-32C of its whole content, read by memory mapping.
 */
final class Fingerprint {
    private static final long WINDOW = 1L << 30;

    private Fingerprint() {}

    static String of(Path path) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            List<Path> files;
            if (Files.isDirectory(path)) {
                try (Stream<Path> s = Files.list(path)) {
                    files = s.filter(Files::isRegularFile).sorted().toList();
                }
            } else if (Files.isRegularFile(path)) {
                files = List.of(path);
            } else {
                throw new DoraException(path + ": no such file or directory on this worker");
            }
            for (Path f : files) {
                sha.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                long size = Files.size(f);
                sha.update(Long.toString(size).getBytes(StandardCharsets.UTF_8));
                sha.update(Long.toString(crc(f, size)).getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        } catch (IOException e) {
            throw new DoraException(path + ": cannot read it to compare it with the other workers' copies: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long crc(Path file, long size) throws IOException {
        CRC32C crc = new CRC32C();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (long at = 0; at < size; at += WINDOW) {
                MappedByteBuffer window = ch.map(FileChannel.MapMode.READ_ONLY, at, Math.min(WINDOW, size - at));
                crc.update(window);
            }
        }
        return crc.getValue();
    }
}
