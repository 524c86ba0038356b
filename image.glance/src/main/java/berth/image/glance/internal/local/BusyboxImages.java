package berth.image.glance.internal.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Builds the seed images from the host's static busybox, without Docker: a root filesystem tarball and a
 * {@code docker save} archive holding the same tree as its one layer. Both are reproducible (fixed times and
 * owners), so the same busybox always gives the same checksums.
 */
final class BusyboxImages {

    /** The command the seed images run unless {@code os_command_line} says otherwise. */
    static final List<String> DEFAULT_COMMAND = List.of("httpd", "-f", "-p", "80", "-h", "/var/www");

    static final String[] APPLETS = {"sh", "ash", "ls", "sleep", "cat", "echo", "hostname", "httpd", "ip", "ps",
        "mount", "umount", "true", "false", "id", "kill", "env", "printf", "mkdir", "rm", "rmdir", "touch", "grep",
        "sed", "head", "tail", "wc", "uname", "date", "ln", "cp", "mv", "chmod", "df", "du", "free", "top", "vi",
        "wget", "nc", "ifconfig", "route", "ping", "sync", "dmesg", "test", "[", "seq", "sha256sum", "md5sum",
        "stat", "tr", "cut", "awk", "find", "xargs", "which", "whoami", "yes", "timeout", "pidof", "killall",
        "nproc", "uptime", "readlink", "basename", "dirname", "expr", "tee", "sort", "uniq", "tar", "gzip"};

    private static final long MTIME_MILLIS = 1_767_225_600_000L; // 2026-01-01T00:00:00Z
    private static final String CREATED = "2026-01-01T00:00:00Z";

    private BusyboxImages() {
    }

    /**
     * Writes the root filesystem tarball.
     *
     * @param busybox the static busybox binary
     * @param target  where to write the tar
     * @throws IOException on failure
     */
    static void writeRootfs(Path busybox, Path target) throws IOException {
        try (OutputStream out = Files.newOutputStream(target)) {
            writeRootfs(busybox, out);
        }
    }

    static void writeRootfs(Path busybox, OutputStream raw) throws IOException {
        TarArchiveOutputStream tar = new TarArchiveOutputStream(raw);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        for (String d : new String[] {"bin/", "dev/", "etc/", "proc/", "root/", "sbin/", "sys/", "usr/",
            "usr/bin/", "var/", "var/www/"}) {
            dir(tar, d, 0755);
        }
        dir(tar, "tmp/", 01777);
        TarArchiveEntry bb = entry("bin/busybox", TarArchiveEntry.LF_NORMAL, 0755);
        bb.setSize(Files.size(busybox));
        tar.putArchiveEntry(bb);
        Files.copy(busybox, tar);
        tar.closeArchiveEntry();
        for (String applet : APPLETS) {
            TarArchiveEntry link = entry("bin/" + applet, TarArchiveEntry.LF_SYMLINK, 0777);
            link.setLinkName("busybox");
            tar.putArchiveEntry(link);
            tar.closeArchiveEntry();
        }
        file(tar, "etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n"
                + "www-data:x:33:33:www-data:/var/www:/bin/false\n"
                + "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        file(tar, "etc/group", 0644, "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n");
        file(tar, "etc/hostname", 0644, "busybox\n");
        file(tar, "var/www/index.html", 0644,
                "<!doctype html>\n<html><body><h1>Berth busybox</h1></body></html>\n");
        tar.finish();
        tar.flush();
    }

    /**
     * Writes a {@code docker save} archive (manifest.json, the image config naming the layer's diff id, the
     * layer tar, repositories) whose one layer is the root filesystem tarball. It names no tag, so a
     * {@code docker load} creates none; the driver tags it.
     *
     * @param busybox  the static busybox binary
     * @param workDir  scratch directory for the layer
     * @param target   where to write the archive
     * @throws IOException on failure
     */
    static void writeDockerArchive(Path busybox, Path workDir, Path target) throws IOException {
        Path layer = Files.createTempFile(workDir, ".layer", ".tar");
        try {
            writeRootfs(busybox, layer);
            String layerHex = sha256(layer);
            ObjectMapper json = new ObjectMapper();
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("architecture", "amd64");
            config.put("os", "linux");
            config.put("created", CREATED);
            Map<String, Object> runConfig = new LinkedHashMap<>();
            runConfig.put("Env", List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
            runConfig.put("Cmd", DEFAULT_COMMAND);
            runConfig.put("WorkingDir", "/");
            config.put("config", runConfig);
            config.put("rootfs", Map.of("type", "layers", "diff_ids", List.of("sha256:" + layerHex)));
            config.put("history", List.of(Map.of("created", CREATED, "created_by", "berth: busybox seed image")));
            byte[] configBytes = json.writeValueAsBytes(config);
            String configHex = HexFormat.of().formatHex(digest("SHA-256").digest(configBytes));

            Map<String, Object> manifestEntry = new LinkedHashMap<>();
            manifestEntry.put("Config", configHex + ".json");
            manifestEntry.put("RepoTags", null);
            manifestEntry.put("Layers", List.of(layerHex + "/layer.tar"));
            byte[] manifest = json.writeValueAsBytes(List.of(manifestEntry));
            // The legacy per-layer json docker save still writes; loaders that predate manifest.json read it.
            Map<String, Object> legacy = new LinkedHashMap<>();
            legacy.put("id", layerHex);
            legacy.put("created", CREATED);
            legacy.put("config", runConfig);
            legacy.put("os", "linux");

            try (OutputStream out = Files.newOutputStream(target)) {
                TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                dir(tar, layerHex + "/", 0755);
                file(tar, layerHex + "/VERSION", 0644, "1.0");
                file(tar, layerHex + "/json", 0644, json.writeValueAsBytes(legacy));
                TarArchiveEntry l = entry(layerHex + "/layer.tar", TarArchiveEntry.LF_NORMAL, 0644);
                l.setSize(Files.size(layer));
                tar.putArchiveEntry(l);
                Files.copy(layer, tar);
                tar.closeArchiveEntry();
                file(tar, configHex + ".json", 0644, configBytes);
                file(tar, "manifest.json", 0644, manifest);
                file(tar, "repositories", 0644, "{}".getBytes(StandardCharsets.UTF_8));
                tar.finish();
                tar.flush();
            }
        } finally {
            Files.deleteIfExists(layer);
        }
    }

    private static TarArchiveEntry entry(String name, byte type, int mode) {
        TarArchiveEntry e = new TarArchiveEntry(name, type);
        e.setMode(mode | modeType(type));
        e.setModTime(MTIME_MILLIS);
        e.setUserId(0);
        e.setGroupId(0);
        e.setUserName("root");
        e.setGroupName("root");
        return e;
    }

    private static int modeType(byte type) {
        return switch (type) {
            case TarArchiveEntry.LF_DIR -> 040000;
            case TarArchiveEntry.LF_SYMLINK -> 0120000;
            default -> 0100000;
        };
    }

    private static void dir(TarArchiveOutputStream tar, String name, int mode) throws IOException {
        tar.putArchiveEntry(entry(name, TarArchiveEntry.LF_DIR, mode));
        tar.closeArchiveEntry();
    }

    private static void file(TarArchiveOutputStream tar, String name, int mode, String content) throws IOException {
        file(tar, name, mode, content.getBytes(StandardCharsets.UTF_8));
    }

    private static void file(TarArchiveOutputStream tar, String name, int mode, byte[] content) throws IOException {
        TarArchiveEntry e = entry(name, TarArchiveEntry.LF_NORMAL, mode);
        e.setSize(content.length);
        tar.putArchiveEntry(e);
        tar.write(content);
        tar.closeArchiveEntry();
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md = digest("SHA-256");
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " missing from the JDK", e);
        }
    }
}
