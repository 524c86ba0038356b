package berth.driver.lxc.internal.jna;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import java.nio.charset.StandardCharsets;

/**
 * The few libc calls Java cannot make: reading a small file that a container controls (its {@code /.berth/run}
 * bind mount) without following a planted symlink and without blocking on a planted FIFO or device.
 */
public final class Libc {
    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 04000;
    private static final int O_NOFOLLOW = 0400000;
    private static final int O_CLOEXEC = 02000000;

    private final Function open;
    private final Function read;
    private final Function close;

    public Libc() {
        NativeLibrary c = NativeLibrary.getInstance("c");
        open = c.getFunction("open");
        read = c.getFunction("read");
        close = c.getFunction("close");
    }

    /**
     * Opens a regular file without following a final symlink and without blocking if it was swapped for a FIFO
     * after it was examined: the file is opened non-blocking, its type checked through {@code /proc/self/fd}, and
     * reopened through that magic link, which names the opened inode rather than the path.
     *
     * @param path the file
     * @return a stream on it
     * @throws java.io.IOException when it cannot be opened or is not a regular file
     */
    public java.io.InputStream openRegular(java.nio.file.Path path) throws java.io.IOException {
        int fd = (Integer) open.invoke(Integer.class,
                new Object[] {path.toString(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC});
        if (fd < 0) {
            throw new java.io.IOException("cannot open " + path);
        }
        try {
            java.nio.file.Path self = java.nio.file.Path.of("/proc/self/fd/" + fd);
            if (!java.nio.file.Files.isRegularFile(self)) {
                throw new java.io.IOException(path + " is no longer a regular file");
            }
            return java.nio.file.Files.newInputStream(self);
        } finally {
            close.invoke(Integer.class, new Object[] {fd});
        }
    }

    /**
     * @param path file to read
     * @param max  most bytes to read
     * @return its first bytes, or null when it cannot be opened
     */
    public String readSmall(String path, int max) {
        int fd = (Integer) open.invoke(Integer.class,
                new Object[] {path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC});
        if (fd < 0) {
            return null;
        }
        try {
            Memory buf = new Memory(max);
            long n = (Long) read.invoke(Long.class, new Object[] {fd, buf, (long) max});
            return n <= 0 ? "" : new String(buf.getByteArray(0, (int) n), StandardCharsets.US_ASCII);
        } finally {
            close.invoke(Integer.class, new Object[] {fd});
        }
    }
}
