package berth.image.glance.internal.local;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.NotFoundException;
import berth.driver.api.spi.LocalImage;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalImageStoreTest {

    @TempDir
    Path dir;

    private static final Path BUSYBOX = Path.of("/bin/busybox");

    @Test
    void uploadListsFindsAndVerifies() throws Exception {
        LocalImageStore store = new LocalImageStore(dir, null);
        byte[] data = "hello image".getBytes(StandardCharsets.UTF_8);
        ImageInfo img = store.upload("hello", ContainerFormat.BARE, DiskFormat.RAW, Map.of("k", "v"),
                new ByteArrayInputStream(data), null);
        assertEquals("active", img.status());
        assertEquals(data.length, img.size());
        assertEquals(hex("MD5", data), img.checksum());
        assertEquals("sha512", img.hashAlgo());
        assertEquals(hex("SHA-512", data), img.hashValue());
        assertEquals(List.of(img), store.list(ImageQuery.ALL));
        assertEquals(img, store.find("hello").orElseThrow());
        assertEquals(img, store.find(img.id()).orElseThrow());
        try (InputStream in = store.open(img.id())) {
            assertArrayEquals(data, in.readAllBytes());
        }
        LocalImage local = store.acquire(img.id(), "i-1", null);
        assertEquals(hex("SHA-256", data), local.sha256());
        assertArrayEquals(data, Files.readAllBytes(local.file()));

        // a new store over the same directory sees the same image and the durable pin
        LocalImageStore again = new LocalImageStore(dir, null);
        assertEquals(img, again.find(img.id()).orElseThrow());
        assertThrows(ConflictException.class, () -> again.delete(img.id()));
        again.release(img.id(), "i-1");
        again.delete(img.id());
        assertTrue(again.list(ImageQuery.ALL).isEmpty());
        assertThrows(NotFoundException.class, () -> again.delete(img.id()));
    }

    @Test
    void halfWrittenImagesAreNeverListedAndAreSwept() throws Exception {
        LocalImageStore store = new LocalImageStore(dir, null);
        InputStream failing = new InputStream() {
            int n;

            @Override
            public int read() throws IOException {
                if (n++ > 100_000) {
                    throw new IOException("network gone");
                }
                return 'x';
            }
        };
        assertThrows(EngineException.class,
                () -> store.upload("broken", ContainerFormat.BARE, DiskFormat.RAW, Map.of(), failing, null));
        assertTrue(store.list(ImageQuery.ALL).isEmpty());
        try (var s = Files.list(dir)) {
            assertEquals(List.of(), s.toList(), "no staging left after a failed upload");
        }
        // a crash mid-upload leaves a staging directory: not listed, removed at the next start
        Path staging = Files.createDirectory(dir.resolve(".staging-" + java.util.UUID.randomUUID()));
        Files.writeString(staging.resolve("data"), "partial");
        assertTrue(store.list(ImageQuery.ALL).isEmpty());
        new LocalImageStore(dir, null);
        assertFalse(Files.exists(staging));
    }

    @Test
    void corruptDataIsRefused() throws Exception {
        LocalImageStore store = new LocalImageStore(dir, null);
        ImageInfo img = store.upload("c", ContainerFormat.BARE, DiskFormat.RAW, Map.of(),
                new ByteArrayInputStream(new byte[4096]), null);
        Path data = dir.resolve(img.id()).resolve("data");
        byte[] bytes = Files.readAllBytes(data);
        bytes[100] = 1;
        Files.write(data, bytes);
        assertThrows(EngineException.class, () -> store.acquire(img.id(), "i-1", null));
        assertTrue(store.holders(img.id()).isEmpty());
        try (InputStream in = store.open(img.id())) {
            assertThrows(IOException.class, in::readAllBytes);
        }
    }

    @Test
    void seedsTwoBusyboxImagesOnce() throws Exception {
        Assumptions.assumeTrue(Files.isRegularFile(BUSYBOX), "needs busybox-static");
        LocalImageStore store = new LocalImageStore(dir, BUSYBOX);
        List<ImageInfo> images = store.list(new ImageQuery("busybox", null, null, null, null, null, 0));
        assertEquals(2, images.size());
        assertThrows(ConflictException.class, () -> store.find("busybox"));
        ImageInfo docker = images.stream().filter(i -> i.containerFormat() == ContainerFormat.DOCKER).findFirst()
                .orElseThrow();
        ImageInfo bare = images.stream().filter(i -> i.containerFormat() == ContainerFormat.BARE).findFirst()
                .orElseThrow();
        assertEquals("httpd -f -p 80 -h /var/www", bare.properties().get(ImageInfo.COMMAND_LINE));

        Map<String, TarArchiveEntry> rootfs = entries(store.acquire(bare.id(), "t", null).file());
        assertTrue(rootfs.get("bin/busybox").isFile());
        assertEquals(Files.size(BUSYBOX), rootfs.get("bin/busybox").getSize());
        for (String applet : List.of("sh", "sleep", "cat", "echo", "hostname", "httpd", "true", "false", "id")) {
            assertTrue(rootfs.get("bin/" + applet).isSymbolicLink(), applet);
        }
        for (String d : List.of("tmp/", "proc/", "sys/", "dev/", "var/www/")) {
            assertTrue(rootfs.get(d).isDirectory(), d);
        }
        assertTrue(rootfs.containsKey("etc/passwd") && rootfs.containsKey("etc/group")
                && rootfs.containsKey("var/www/index.html"));

        Path archive = store.acquire(docker.id(), "t", null).file();
        Map<String, byte[]> files = contents(archive);
        ObjectMapper json = new ObjectMapper();
        List<?> manifest = json.readValue(files.get("manifest.json"), List.class);
        Map<?, ?> m = (Map<?, ?>) manifest.get(0);
        byte[] config = files.get((String) m.get("Config"));
        byte[] layer = files.get((String) ((List<?>) m.get("Layers")).get(0));
        Map<?, ?> cfg = json.readValue(config, Map.class);
        assertEquals(List.of("sha256:" + hex("SHA-256", layer)), ((Map<?, ?>) cfg.get("rootfs")).get("diff_ids"));
        assertEquals(List.of("httpd", "-f", "-p", "80", "-h", "/var/www"), ((Map<?, ?>) cfg.get("config")).get("Cmd"));
        assertTrue(files.containsKey("repositories"));
        // the layer is the same tree as the rootfs image
        assertArrayEquals(Files.readAllBytes(store.acquire(bare.id(), "t", null).file()), layer);

        store.release(docker.id(), "t");
        store.release(bare.id(), "t");
        store.delete(docker.id());
        assertEquals(1, new LocalImageStore(dir, BUSYBOX).list(ImageQuery.ALL).size(), "seeds only once");
    }

    @Test
    void seedIsReproducible() throws Exception {
        Assumptions.assumeTrue(Files.isRegularFile(BUSYBOX), "needs busybox-static");
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        List<String> sums = new java.util.ArrayList<>();
        for (Path p : List.of(a, b)) {
            LocalImageStore s = new LocalImageStore(p, BUSYBOX);
            s.list(ImageQuery.ALL).stream().map(i -> i.containerFormat() + i.checksum()).sorted()
                    .forEach(sums::add);
        }
        assertEquals(sums.subList(0, 2), sums.subList(2, 4));
    }

    private static Map<String, TarArchiveEntry> entries(Path tar) throws IOException {
        Map<String, TarArchiveEntry> m = new HashMap<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(tar))) {
            for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ) {
                m.put(e.getName(), e);
            }
        }
        return m;
    }

    private static Map<String, byte[]> contents(Path tar) throws IOException {
        Map<String, byte[]> m = new HashMap<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(tar))) {
            for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ) {
                if (e.isFile()) {
                    m.put(e.getName(), in.readAllBytes());
                }
            }
        }
        return m;
    }

    private static String hex(String algo, byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance(algo).digest(data));
    }
}
