package berth.driver.lxc.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** Builds tar archives for tests: a busybox rootfs, docker-save layouts and hostile archives. */
public final class TestTars implements AutoCloseable {
    public static final String[] APPLETS = {"sh", "sleep", "ls", "cat", "echo", "mount", "umount", "hostname", "id",
        "env", "kill", "ps", "mkdir", "rm", "touch", "sync", "true", "false", "head", "wc", "dd", "yes", "timeout",
        "seq", "grep"};

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TarArchiveOutputStream tar;

    public TestTars() {
        tar = new TarArchiveOutputStream(bytes);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    }

    public TestTars dir(String name, int mode) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/");
        e.setMode(040000 | mode);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
        return this;
    }

    public TestTars file(String name, int mode, byte[] data) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, true);
        e.setMode(0100000 | mode);
        e.setSize(data.length);
        tar.putArchiveEntry(e);
        tar.write(data);
        tar.closeArchiveEntry();
        return this;
    }

    public TestTars file(String name, String text) throws IOException {
        return file(name, 0644, text.getBytes(StandardCharsets.UTF_8));
    }

    public TestTars symlink(String name, String target) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK);
        e.setLinkName(target);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
        return this;
    }

    public TestTars hardlink(String name, String target) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_LINK);
        e.setLinkName(target);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
        return this;
    }

    public TestTars device(String name, byte type) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, type);
        e.setDevMajor(1);
        e.setDevMinor(3);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
        return this;
    }

    /** Adds /bin/busybox from the host and applet links, plus the usual top folders. */
    public TestTars busyboxRoot() throws IOException {
        dir("bin", 0755);
        file("bin/busybox", 0755, Files.readAllBytes(Path.of("/bin/busybox")));
        for (String a : APPLETS) {
            symlink("bin/" + a, "busybox");
        }
        for (String d : new String[] {"proc", "sys", "dev", "etc", "root", "var", "run"}) {
            dir(d, 0755);
        }
        dir("tmp", 01777);
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
        file("etc/group", "root:x:0:\n");
        return this;
    }

    public byte[] bytes() throws IOException {
        tar.finish();
        tar.close();
        return bytes.toByteArray();
    }

    public Path writeTo(Path file) throws IOException {
        Files.write(file, bytes());
        return file;
    }

    /** Writes {@code data} into an archive entry of an outer tar being built. */
    public static void entry(TarArchiveOutputStream out, String name, byte[] data) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(data.length);
        e.setMode(0100644);
        out.putArchiveEntry(e);
        out.write(data);
        out.closeArchiveEntry();
    }

    /** Builds a docker-save layout: manifest.json, a config with Cmd/Env, layers in the given order. */
    public static Path dockerSave(Path file, String cmdJson, String envJson, byte[]... layers) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); TarArchiveOutputStream out = new TarArchiveOutputStream(os)) {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            StringBuilder names = new StringBuilder();
            for (int i = 0; i < layers.length; i++) {
                String n = "layer" + i + "/layer.tar";
                entry(out, n, layers[i]);
                names.append(i == 0 ? "" : ",").append('"').append(n).append('"');
            }
            String config = "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":" + cmdJson + ",\"Env\":" + envJson
                    + ",\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\"}}";
            entry(out, "cafe.json", config.getBytes(StandardCharsets.UTF_8));
            String manifest = "[{\"Config\":\"cafe.json\",\"RepoTags\":[\"berth/test:latest\"],\"Layers\":[" + names
                    + "]}]";
            entry(out, "manifest.json", manifest.getBytes(StandardCharsets.UTF_8));
        }
        return file;
    }

    /** @return a LocalImage for a test archive, as an image source would hand it over */
    public static berth.driver.api.spi.LocalImage localImage(Path file, berth.driver.api.ContainerFormat format)
            throws Exception {
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(file)));
        berth.driver.api.ImageInfo info = new berth.driver.api.ImageInfo("img-" + sha.substring(0, 8), "test", "test",
                format, berth.driver.api.DiskFormat.RAW, Files.size(file), null, null, null, "active",
                java.util.List.of(), java.util.Map.of(), null);
        return new berth.driver.api.spi.LocalImage(info, file, sha);
    }

    @Override
    public void close() throws IOException {
        tar.close();
    }
}
