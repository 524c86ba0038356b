package berth.driver.lxc.internal.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes a folder tree as a rootfs tar (the format {@link SafeTarExtractor} reads back), streaming file bodies.
 * Links are stored, never followed; device nodes, FIFOs and sockets are skipped (images may not carry them).
 */
public final class RootfsTarWriter {
    private RootfsTarWriter() {
    }

    /**
     * @param root    the tree
     * @param skipTop top-level names to leave out
     * @param out     destination (finished, not closed)
     * @throws IOException on a read or write failure
     */
    /** Opens a regular file for reading; the driver passes one that neither follows links nor blocks. */
    @FunctionalInterface
    public interface Opener {
        InputStream open(Path file) throws IOException;
    }

    public static void write(Path root, Set<String> skipTop, OutputStream out) throws IOException {
        write(root, skipTop, out, p -> Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * @param root    the tree
     * @param skipTop top-level names to leave out
     * @param out     destination (finished, not closed)
     * @param opener  opens regular files
     * @throws IOException on a read or write failure
     */
    public static void write(Path root, Set<String> skipTop, OutputStream out, Opener opener) throws IOException {
        TarArchiveOutputStream tar = new TarArchiveOutputStream(new NonClosing(out));
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        Map<Object, String> inodes = new HashMap<>();
        walk(root, "", skipTop, tar, inodes, opener);
        tar.finish();
        tar.close();
    }

    private static void walk(Path dir, String prefix, Set<String> skipTop, TarArchiveOutputStream tar,
            Map<Object, String> inodes, Opener opener) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        }
        children.sort(null);
        for (Path p : children) {
            String leaf = p.getFileName().toString();
            if (prefix.isEmpty() && skipTop.contains(leaf)) {
                continue;
            }
            String name = prefix + leaf;
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime,ino,dev,nlink,size",
                    LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) a.get("mode");
            int type = mode & 0170000;
            TarArchiveEntry e;
            if (type == 0040000) {
                e = new TarArchiveEntry(name + "/");
            } else if (type == 0120000) {
                e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK);
                e.setLinkName(Files.readSymbolicLink(p).toString());
            } else if (type == 0100000) {
                Object key = a.get("dev") + ":" + a.get("ino");
                String first = (Integer) a.get("nlink") > 1 ? inodes.putIfAbsent(key, name) : null;
                if (first != null) {
                    e = new TarArchiveEntry(name, TarArchiveEntry.LF_LINK);
                    e.setLinkName(first);
                } else {
                    e = new TarArchiveEntry(name);
                    e.setSize((Long) a.get("size"));
                }
            } else {
                continue;
            }
            e.setMode(mode);
            e.setUserId((Integer) a.get("uid"));
            e.setGroupId((Integer) a.get("gid"));
            e.setModTime((FileTime) a.get("lastModifiedTime"));
            tar.putArchiveEntry(e);
            if (e.isFile() && !e.isLink() && e.getSize() > 0) {
                try (InputStream in = opener.open(p)) {
                    long n = copy(in, tar, e.getSize());
                    // A file a running container truncates while it is read: keep the archive well-formed.
                    byte[] zeros = new byte[8192];
                    for (long left = e.getSize() - n; left > 0; left -= zeros.length) {
                        tar.write(zeros, 0, (int) Math.min(zeros.length, left));
                    }
                }
            }
            tar.closeArchiveEntry();
            if (type == 0040000) {
                walk(p, name + "/", skipTop, tar, inodes, opener);
            }
        }
    }

    private static long copy(InputStream in, OutputStream out, long max) throws IOException {
        byte[] buf = new byte[1 << 16];
        long total = 0;
        while (total < max) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, max - total));
            if (n < 0) {
                break;
            }
            out.write(buf, 0, n);
            total += n;
        }
        return total;
    }

    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
