package berth.driver.lxc.internal.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Unpacks tar archives into a folder without ever writing outside it.
 *
 * <p>Java's file APIs follow symbolic links in every parent component, so each entry's parents are walked from
 * the root with {@link LinkOption#NOFOLLOW_LINKS} and must be real directories; the last component is removed
 * (not followed) before it is replaced, and regular files are opened with {@code CREATE_NEW}. Symlinks are
 * created as they are (absolute targets are normal in a rootfs and resolve inside the container) but never
 * followed. Entries with {@code ..}, absolute names, hardlinks leaving the root or pointing at non-files, device
 * nodes, FIFOs and (unless allowed) setuid/setgid bits are refused, as are truncated bodies. Callers extract into a
 * fresh private folder and delete it on failure, so no race with another writer exists.
 *
 * <p>In layer mode the Docker whiteouts apply: {@code .wh.NAME} deletes NAME of lower layers and
 * {@code .wh..wh..opq} empties its folder of what lower layers put there.
 */
public final class SafeTarExtractor {
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final int SETUID_SETGID = 06000;

    /** Refusal of an archive: the message names the entry and the reason. */
    public static final class UnsafeArchiveException extends IOException {
        private static final long serialVersionUID = 1L;

        public UnsafeArchiveException(String message) {
            super(message);
        }
    }

    private final Path root;
    private final boolean allowSetuid;
    private final long uidShift;
    private final long gidShift;

    /**
     * @param root        target folder, which must exist and be a real directory
     * @param allowSetuid keep setuid/setgid bits instead of refusing them
     * @param uidShift    added to every owner uid (0 unless an unprivileged ID map is used)
     * @param gidShift    added to every group gid
     */
    public SafeTarExtractor(Path root, boolean allowSetuid, long uidShift, long gidShift) {
        this.root = root.toAbsolutePath().normalize();
        this.allowSetuid = allowSetuid;
        this.uidShift = uidShift;
        this.gidShift = gidShift;
    }

    /**
     * Extracts a whole archive (a rootfs tar, or one layer).
     *
     * @param in        the tar bytes (not closed)
     * @param layerMode honour Docker whiteout files
     * @throws UnsafeArchiveException for a refused entry
     * @throws IOException            on a malformed or truncated archive
     */
    public void extract(InputStream in, boolean layerMode) throws IOException {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("extraction root " + root + " is not a directory");
        }
        Set<Path> thisLayer = new HashSet<>();
        List<Object> dirTimes = new ArrayList<>();
        TarArchiveInputStream tar = new TarArchiveInputStream(new NonClosing(in));
        TarArchiveEntry e;
        int count = 0;
        while ((e = tar.getNextEntry()) != null) {
            count++;
            String name = e.getName();
            List<String> parts = components(name);
            if (parts.isEmpty()) {
                continue; // "./" itself: the root folder stays as created
            }
            String leaf = parts.get(parts.size() - 1);
            if (layerMode && leaf.startsWith(WHITEOUT)) {
                Path dir = parentDirs(parts.subList(0, parts.size() - 1), true);
                if (leaf.equals(OPAQUE)) {
                    clearLowerContent(dir, thisLayer);
                } else {
                    String victim = leaf.substring(WHITEOUT.length());
                    if (victim.isEmpty() || victim.equals(".") || victim.equals("..") || victim.contains("/")) {
                        throw new UnsafeArchiveException("entry '" + name + "': invalid whiteout");
                    }
                    deleteTree(dir.resolve(victim));
                }
                continue;
            }
            Path dir = parentDirs(parts.subList(0, parts.size() - 1), true);
            Path target = dir.resolve(leaf);
            int mode = e.getMode() & 07777;
            if ((mode & SETUID_SETGID) != 0 && !allowSetuid && !e.isSymbolicLink()) {
                throw new UnsafeArchiveException("entry '" + name + "': setuid/setgid bit refused"
                        + " (allow it in the LXC driver configuration)");
            }
            if (e.isDirectory()) {
                BasicFileAttributes a = lstat(target);
                if (a != null && !a.isDirectory()) {
                    deleteTree(target);
                    a = null;
                }
                if (a == null) {
                    Files.createDirectory(target);
                }
                own(target, e, false);
                chmod(target, mode);
                dirTimes.add(target);
                dirTimes.add(e.getLastModifiedTime());
            } else if (e.isSymbolicLink()) {
                String link = e.getLinkName();
                if (link == null || link.isEmpty() || link.indexOf('\0') >= 0) {
                    throw new UnsafeArchiveException("entry '" + name + "': empty symlink target");
                }
                replace(target);
                Files.createSymbolicLink(target, target.getFileSystem().getPath(link));
                own(target, e, true);
            } else if (e.isLink()) {
                List<String> lp = components(e.getLinkName());
                if (lp.isEmpty()) {
                    throw new UnsafeArchiveException("entry '" + name + "': hardlink to the root");
                }
                Path src = parentDirs(lp.subList(0, lp.size() - 1), false).resolve(lp.get(lp.size() - 1));
                BasicFileAttributes sa = lstat(src);
                if (sa == null || !sa.isRegularFile()) {
                    throw new UnsafeArchiveException("entry '" + name + "': hardlink target '" + e.getLinkName()
                            + "' is not a file extracted before it");
                }
                if (src.equals(target)) {
                    continue;
                }
                replace(target);
                Files.createLink(target, src);
            } else if (e.isCharacterDevice() || e.isBlockDevice()) {
                throw new UnsafeArchiveException("entry '" + name + "': device nodes are refused");
            } else if (e.isFIFO()) {
                throw new UnsafeArchiveException("entry '" + name + "': FIFOs are refused");
            } else if (isRegular(e)) {
                replace(target);
                long want = e.getSize();
                long copied;
                try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    copied = tar.transferTo(out);
                }
                if (copied != want) {
                    throw new IOException("entry '" + name + "': truncated body (" + copied + " of " + want + " bytes)");
                }
                own(target, e, false);
                chmod(target, mode);
                Files.setLastModifiedTime(target, e.getLastModifiedTime());
            } else {
                throw new UnsafeArchiveException("entry '" + name + "': unsupported entry type "
                        + (char) e.getLinkFlag());
            }
            thisLayer.add(target);
        }
        if (count == 0) {
            throw new IOException("empty or unreadable tar archive");
        }
        // Folder times last: creating entries inside a folder changes its mtime.
        for (int i = dirTimes.size() - 2; i >= 0; i -= 2) {
            Path d = (Path) dirTimes.get(i);
            BasicFileAttributes a = lstat(d);
            if (a != null && a.isDirectory()) {
                Files.setLastModifiedTime(d, (FileTime) dirTimes.get(i + 1));
            }
        }
    }

    private static boolean isRegular(TarArchiveEntry e) {
        byte f = e.getLinkFlag();
        return f == TarArchiveEntry.LF_NORMAL || f == TarArchiveEntry.LF_OLDNORM || f == TarArchiveEntry.LF_CONTIG;
    }

    /** Splits an entry name into safe components: no absolute names, no {@code ..}, no NUL. */
    static List<String> components(String name) throws UnsafeArchiveException {
        if (name == null || name.indexOf('\0') >= 0) {
            throw new UnsafeArchiveException("entry with an invalid name");
        }
        if (name.startsWith("/")) {
            throw new UnsafeArchiveException("entry '" + name + "': absolute paths are refused");
        }
        List<String> parts = new ArrayList<>();
        for (String p : name.split("/")) {
            if (p.isEmpty() || p.equals(".")) {
                continue;
            }
            if (p.equals("..")) {
                throw new UnsafeArchiveException("entry '" + name + "': '..' is refused");
            }
            parts.add(p);
        }
        return parts;
    }

    /* Walks (and optionally creates) parent folders without following any link. */
    private Path parentDirs(List<String> parts, boolean create) throws IOException {
        Path p = root;
        for (String part : parts) {
            p = p.resolve(part);
            BasicFileAttributes a = lstat(p);
            if (a == null) {
                if (!create) {
                    throw new UnsafeArchiveException("path '" + root.relativize(p) + "' does not exist");
                }
                Files.createDirectory(p);
            } else if (a.isSymbolicLink()) {
                throw new UnsafeArchiveException("path '" + root.relativize(p)
                        + "' is a symlink; writing through symlinks is refused");
            } else if (!a.isDirectory()) {
                throw new UnsafeArchiveException("path '" + root.relativize(p) + "' is not a directory");
            }
        }
        return p;
    }

    private void replace(Path target) throws IOException {
        BasicFileAttributes a = lstat(target);
        if (a != null) {
            deleteTree(target);
        }
    }

    private void clearLowerContent(Path dir, Set<Path> thisLayer) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path child : ds) {
                if (!thisLayer.contains(child)) {
                    deleteTree(child);
                }
            }
        }
    }

    private void own(Path target, TarArchiveEntry e, boolean link) throws IOException {
        long uid = e.getLongUserId() + uidShift;
        long gid = e.getLongGroupId() + gidShift;
        if (uid == 0 && gid == 0) {
            return; // files are created by root already
        }
        Files.setAttribute(target, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(target, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
    }

    private static void chmod(Path target, int mode) throws IOException {
        Files.setAttribute(target, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    static BasicFileAttributes lstat(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Deletes a file, link or folder tree without following links. */
    public static void deleteTree(Path p) throws IOException {
        BasicFileAttributes a = lstat(p);
        if (a == null) {
            return;
        }
        if (!a.isDirectory()) {
            Files.delete(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /* The layer stream belongs to the outer archive: closing the inner tar must not close it. */
    private static final class NonClosing extends java.io.FilterInputStream {
        NonClosing(InputStream in) {
            super(in);
        }

        @Override
        public void close() {
        }
    }
}
