package berth.driver.api.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Crash-safe file replacement: the data is written to a temporary file in the same directory, forced to disk,
 * renamed over the target and the directory forced too. After a crash at any moment a reader sees either the old
 * or the new content, never a mix, and a write that returned survives a power loss.
 */
public final class DurableFiles {

    /** Writes content into an output stream; may throw I/O errors. */
    @FunctionalInterface
    public interface Writer {
        /**
         * @param out where to write
         * @throws IOException on failure
         */
        void write(OutputStream out) throws IOException;
    }

    private DurableFiles() {
    }

    /**
     * Replaces {@code target} with {@code data} durably.
     *
     * @param target file to replace (its directory must exist)
     * @param data   new content
     * @throws IOException on failure; the target is then unchanged and no temporary file is left
     */
    public static void write(Path target, byte[] data) throws IOException {
        write(target, out -> out.write(data));
    }

    /**
     * Replaces {@code target} with what {@code writer} writes, durably.
     *
     * @param target file to replace (its directory must exist)
     * @param writer produces the content
     * @throws IOException on failure; the target is then unchanged and no temporary file is left
     */
    public static void write(Path target, Writer writer) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                    OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                writer.write(out);
                out.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + target + " atomically", e);
            }
            syncDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Deletes a file and forces its directory, so the deletion survives a crash.
     *
     * @param target file to delete; a missing file is not an error
     * @throws IOException on failure
     */
    public static void delete(Path target) throws IOException {
        if (Files.deleteIfExists(target)) {
            syncDirectory(target.toAbsolutePath().getParent());
        }
    }

    /**
     * Forces a directory's entries to disk (after a create, rename or delete inside it).
     *
     * @param dir the directory
     * @throws IOException on failure
     */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
