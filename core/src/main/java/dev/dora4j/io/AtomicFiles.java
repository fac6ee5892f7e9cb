package dev.dora4j.io;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes files and directories so that readers see either the old content or the complete new content,
 * never a partial one. Content goes to a hidden temporary sibling ({@code .<name>.tmp-<random>}), is forced
 * to disk, and is then renamed into place. On failure the temporary is removed and the old content stays;
 * the failure surfaces as a {@link DoraException} naming the target (one thrown by the writer itself passes
 * through unchanged).
 */
public final class AtomicFiles {
    /** The name of a temporary sibling, as {@link #sibling} makes it. */
    private static final Pattern LEFTOVER = Pattern.compile("\\..+\\.tmp-[0-9a-f]{16}");

    /**
     * Produces content at a temporary path: for {@link #write} a file it must create, for
     * {@link #writeDirectory} an existing empty directory it fills.
     */
    @FunctionalInterface
    public interface IOWriter {
        void write(Path tmp) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Writes {@code target} atomically; {@code writer} creates and fills the temporary file it is given. */
    public static void write(Path target, IOWriter writer) {
        Path absolute = target.toAbsolutePath().normalize();
        Path tmp = sibling(absolute, "tmp");
        boolean done = false;
        try {
            Files.createDirectories(absolute.getParent());
            writer.write(tmp);
            if (!Files.isRegularFile(tmp, LinkOption.NOFOLLOW_LINKS)) {
                throw new DoraException(target + ": cannot write: the writer did not create a file");
            }
            forceToDisk(tmp);
            move(tmp, absolute, true);
            syncDirectory(absolute.getParent());
            done = true;
        } catch (IOException | RuntimeException e) {
            throw failure(target, tmp, e);
        } finally {
            if (!done) {
                deleteQuietly(tmp);
            }
        }
    }

    /** Writes {@code content} as UTF-8 to {@code target} atomically. */
    public static void writeString(Path target, String content) {
        write(target, tmp -> Files.writeString(tmp, content, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    /**
     * Builds a complete directory at a temporary sibling, then renames it to {@code targetDir}. An existing
     * target directory is first renamed aside, then deleted once the new one is in place; if the new one
     * cannot be moved in, the old one is put back.
     */
    public static void writeDirectory(Path targetDir, IOWriter writer) {
        Path absolute = targetDir.toAbsolutePath().normalize();
        Path tmp = sibling(absolute, "tmp");
        boolean done = false;
        try {
            if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)
                    && !Files.isDirectory(absolute, LinkOption.NOFOLLOW_LINKS)) {
                throw new DoraException(targetDir + ": cannot write: it exists and is not a directory");
            }
            Files.createDirectories(absolute.getParent());
            Files.createDirectory(tmp);
            writer.write(tmp);
            forceTreeToDisk(tmp);
            replaceDirectory(tmp, absolute);
            syncDirectory(absolute.getParent());
            done = true;
        } catch (IOException | RuntimeException e) {
            throw failure(targetDir, tmp, e);
        } finally {
            if (!done) {
                deleteTreeQuietly(tmp);
            }
        }
    }

    /**
     * Deletes the temporaries that writes into {@code dir} left when the process was killed before it could
     * remove them (the content they held was never complete); returns how many it removed. Nothing else is
     * touched.
     */
    public static int removeLeftovers(Path dir) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return 0;
        }
        List<Path> leftovers;
        try (Stream<Path> entries = Files.list(dir)) {
            leftovers = entries.filter(p -> LEFTOVER.matcher(p.getFileName().toString()).matches()).toList();
        } catch (IOException e) {
            throw new DoraException(dir + ": cannot list: " + e.getMessage(), e);
        }
        leftovers.forEach(AtomicFiles::deleteTreeQuietly);
        return leftovers.size();
    }

    private static void replaceDirectory(Path fresh, Path target) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            move(fresh, target, false);
            return;
        }
        Path old = sibling(target, "old");
        move(target, old, false);
        try {
            move(fresh, target, false);
        } catch (IOException | RuntimeException e) {
            try {
                move(old, target, false);
            } catch (IOException restoreFailure) {
                e.addSuppressed(restoreFailure);
            }
            throw e;
        }
        deleteTreeQuietly(old);
    }

    private static Path sibling(Path absoluteTarget, String kind) {
        String random = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        return absoluteTarget.resolveSibling("." + absoluteTarget.getFileName() + "." + kind + "-" + random);
    }

    private static void move(Path from, Path to, boolean replace) throws IOException {
        try {
            if (replace) {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system cannot rename " + from.getFileName() + " atomically", e);
        }
    }

    private static void forceToDisk(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
    }

    private static void forceTreeToDisk(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(dir)) {
            files = walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList();
        }
        for (Path file : files) {
            forceToDisk(file);
        }
    }

    /** Makes a rename durable; not every platform can open a directory for this, so failures are ignored. */
    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Durability of the directory entry is best effort.
        }
    }

    /**
     * The error for a failed write: a {@link DoraException} from the writer as it is, anything else as
     * "cannot write"; either way naming {@code target} where it named the temporary, which no longer exists.
     */
    private static DoraException failure(Path target, Path tmp, Exception e) {
        String message;
        if (e instanceof DoraException dora) {
            message = dora.getMessage();
        } else {
            String detail = e instanceof IOException ? describe((IOException) e) : e.toString();
            if (mentionsDiskFull(e)) {
                detail = "disk full (" + detail + ")";
            }
            message = target + ": cannot write: " + StrictJson.oneLine(detail) + "; any previous content is unchanged";
        }
        String named = message.replace(tmp.toString(), target.toAbsolutePath().normalize().toString());
        return e instanceof DoraException dora && named.equals(message) ? dora : new DoraException(named, e);
    }

    private static String describe(IOException e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + message;
    }

    private static boolean mentionsDiskFull(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains("No space left on device")) {
                return true;
            }
        }
        return false;
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // Nothing more can be done; the original failure is what the caller needs to see.
        }
    }

    private static void deleteTreeQuietly(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(AtomicFiles::deleteQuietly);
        } catch (IOException | RuntimeException ignored) {
            // As above: cleanup is best effort.
        }
    }
}
