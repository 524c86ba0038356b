package berth.image.glance.internal.glance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against the real Glance on 19292 (identity headers, no Keystone); each test in a project of its own. */
class GlanceNoAuthTest {
    @TempDir
    Path state;

    private GlanceImageSource source;
    private final List<String> created = new ArrayList<>();

    @BeforeEach
    void start() {
        GlanceServices.require(GlanceServices.GLANCE_URL, "glance-api (no auth)");
        source = GlanceServices.source(GlanceServices.noauth("glance-test", state, TestImages.unique("berth-p")));
    }

    @AfterEach
    void cleanUp() {
        if (source == null) {
            return;
        }
        for (String id : created) {
            try {
                source.delete(id);
            } catch (NotFoundException e) {
                // deleted by the test
            }
        }
        source.close();
    }

    private ImageInfo upload(String name, ContainerFormat cf, byte[] data, Map<String, String> props) {
        ImageInfo info = source.upload(name, cf, DiskFormat.RAW, props, new ByteArrayInputStream(data), null);
        created.add(info.id());
        return info;
    }

    @Test
    void uploadThenAcquireRoundTripsVerifiedBytes() throws Exception {
        byte[] data = TestImages.bytes(3 * 1024 * 1024 + 17, 1);
        List<long[]> uploadProgress = new ArrayList<>();
        ImageInfo info = source.upload("round-trip", ContainerFormat.DOCKER, DiskFormat.RAW,
                Map.of("image_location", "snapshot", "berth_backend", "docker"), new ByteArrayInputStream(data),
                (what, done, total) -> uploadProgress.add(new long[] {done, total}));
        created.add(info.id());

        assertEquals("active", info.status());
        assertEquals(data.length, info.size());
        assertEquals(TestImages.hex("MD5", data), info.checksum());
        assertEquals("sha512", info.hashAlgo());
        assertEquals(TestImages.hex("SHA-512", data), info.hashValue());
        assertEquals("snapshot", info.properties().get("image_location"));
        assertEquals("docker", info.properties().get("berth_backend"));
        assertEquals("glance-test", info.source());
        assertEquals(data.length, uploadProgress.get(uploadProgress.size() - 1)[0]);

        AtomicLong lastDone = new AtomicLong();
        LocalImage local = source.acquire(info.id(), "instance-1", (what, done, total) -> lastDone.set(done));
        assertArrayEquals(data, Files.readAllBytes(local.file()));
        assertEquals(TestImages.hex("SHA-256", data), local.sha256());
        assertEquals(data.length, lastDone.get());
        assertTrue(local.file().startsWith(state.resolve("image-cache").resolve("glance-test")));

        lastDone.set(-1);
        LocalImage again = source.acquire(info.id(), "instance-2", (what, done, total) -> lastDone.set(done));
        assertEquals(local.file(), again.file());
        assertEquals(-1, lastDone.get(), "a cached image is not downloaded again");
        assertEquals(Set.of("instance-1", "instance-2"), source.cache().holders(info.id()));
        source.release(info.id(), "instance-1");
        source.release(info.id(), "instance-2");

        try (InputStream in = source.open(info.id())) {
            assertArrayEquals(data, in.readAllBytes());
        }
    }

    @Test
    void listFollowsNextMarkersAndFilters() {
        String prefix = TestImages.unique("list");
        String tag = TestImages.unique("tag");
        for (int i = 0; i < 5; i++) {
            ImageInfo info = upload(prefix + "-" + i, i % 2 == 0 ? ContainerFormat.DOCKER : ContainerFormat.BARE,
                    TestImages.bytes(1000 + i, i), Map.of("berth_test_index", Integer.toString(i)));
            if (i < 3) {
                source.addTag(info.id(), tag);
            }
        }
        GlanceImageSource paged = GlanceServices.source(new GlanceSettings("paged", GlanceSettings.AuthMode.NOAUTH,
                source.settings().endpoint(), null, null, null, null, null, null, null, null, null,
                source.settings().trustedProject(), List.of("member"), state.resolve("paged"), 1 << 20,
                Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ZERO, 2));
        try {
            List<ImageInfo> all = paged.list(ImageQuery.ALL);
            assertEquals(5, all.size(), "5 images through pages of 2");
            assertEquals(5, new HashSet<>(all.stream().map(ImageInfo::id).toList()).size());

            assertEquals(3, paged.list(new ImageQuery(null, ContainerFormat.DOCKER, null, null, null, null, 0)).size());
            assertEquals(2, paged.list(new ImageQuery(null, ContainerFormat.BARE, DiskFormat.RAW, "active", null,
                    null, 0)).size());
            assertEquals(3, paged.list(new ImageQuery(null, null, null, null, tag, null, 0)).size());
            List<ImageInfo> one = paged.list(new ImageQuery(prefix + "-4", null, null, null, null, null, 0));
            assertEquals(1, one.size());
            assertEquals("4", one.get(0).properties().get("berth_test_index"));
            assertEquals(1, paged.list(new ImageQuery(null, null, null, null, null,
                    Map.of("berth_test_index", "3"), 0)).size());
            assertEquals(3, paged.list(new ImageQuery(null, null, null, null, null, null, 3)).size());
            assertEquals(0, paged.list(new ImageQuery(null, null, DiskFormat.ROOT_TAR, null, null, null, 0)).size());
        } finally {
            paged.close();
        }
    }

    @Test
    void findsByIdAndNameAndRefusesAmbiguousNames() {
        String name = TestImages.unique("find");
        ImageInfo a = upload(name, ContainerFormat.BARE, TestImages.bytes(100, 1), Map.of());
        assertEquals(a.id(), source.find(name).orElseThrow().id());
        assertEquals(name, source.find(a.id()).orElseThrow().name());
        assertTrue(source.find(TestImages.unique("missing")).isEmpty());
        assertTrue(source.find("00000000-0000-0000-0000-000000000000").isEmpty());

        ImageInfo b = upload(name, ContainerFormat.DOCKER, TestImages.bytes(100, 2), Map.of());
        ConflictException e = assertThrows(ConflictException.class, () -> source.find(name));
        assertTrue(e.getMessage().contains(a.id()) && e.getMessage().contains(b.id()), e.getMessage());
    }

    @Test
    void tagsAndPropertiesChangeInGlance() {
        ImageInfo info = upload(TestImages.unique("props"), ContainerFormat.BARE, TestImages.bytes(10, 3),
                Map.of("keep", "1", "drop", "2"));
        source.addTag(info.id(), "alpha");
        source.addTag(info.id(), "beta");
        source.removeTag(info.id(), "alpha");
        ImageInfo after = source.updateProperties(info.id(), Map.of("keep", "one", "os_command_line", "/bin/sh -c x"),
                List.of("drop"));
        assertEquals(List.of("beta"), after.tags());
        assertEquals("one", after.properties().get("keep"));
        assertEquals("/bin/sh -c x", after.properties().get(ImageInfo.COMMAND_LINE));
        assertFalse(after.properties().containsKey("drop"));
        assertEquals(after, source.find(info.id()).orElseThrow());
    }

    @Test
    void aNewImageUnderTheSameNameIsNeverTakenForTheCachedOne() throws Exception {
        String name = TestImages.unique("same-name");
        byte[] first = TestImages.bytes(200_000, 10);
        ImageInfo a = upload(name, ContainerFormat.BARE, first, Map.of());
        LocalImage la = source.acquire(source.find(name).orElseThrow().id(), "i1", null);
        source.release(a.id(), "i1");
        source.delete(a.id());

        byte[] second = TestImages.bytes(200_000, 11);
        ImageInfo b = upload(name, ContainerFormat.BARE, second, Map.of());
        LocalImage lb = source.acquire(source.find(name).orElseThrow().id(), "i2", null);
        assertEquals(b.id(), lb.info().id());
        assertNotEquals(la.sha256(), lb.sha256());
        assertArrayEquals(second, Files.readAllBytes(lb.file()));
        assertFalse(Files.exists(la.file()), "the deleted image's unheld copy is gone");
        source.release(b.id(), "i2");
    }

    @Test
    void cacheEvictsLeastRecentlyUsedButNeverHeldImages() throws Exception {
        GlanceImageSource small = GlanceServices.source(GlanceServices.noauth("small", URI.create(
                GlanceServices.GLANCE_URL), state, source.settings().trustedProject(), List.of("member"),
                2_500_000, Duration.ofSeconds(30), Duration.ofSeconds(30)));
        try {
            List<ImageInfo> images = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                images.add(upload(TestImages.unique("lru" + i), ContainerFormat.BARE, TestImages.bytes(1_000_000,
                        20 + i), Map.of()));
            }
            LocalImage held = small.acquire(images.get(0).id(), "holder", null);
            LocalImage l1 = small.acquire(images.get(1).id(), "h1", null);
            small.release(images.get(1).id(), "h1");
            // 2 MB cached; a third image needs room: the unheld image 1 goes, the held image 0 stays
            LocalImage l2 = small.acquire(images.get(2).id(), "h2", null);
            small.release(images.get(2).id(), "h2");
            assertTrue(Files.exists(held.file()));
            assertFalse(Files.exists(l1.file()), "least recently used, unheld: evicted");
            assertTrue(Files.exists(l2.file()));
            LocalImage l3 = small.acquire(images.get(3).id(), "h3", null);
            assertTrue(Files.exists(held.file()), "held images are never evicted");
            assertFalse(Files.exists(l2.file()));
            assertTrue(Files.exists(l3.file()));
            assertTrue(small.cache().totalBytes() <= 2_500_000);
        } finally {
            small.close();
        }
    }

    @Test
    void aFailedUploadLeavesNoImage() {
        String name = TestImages.unique("broken-upload");
        InputStream failing = new InputStream() {
            private int left = 300_000;

            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0];
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (left <= 0) {
                    throw new IOException("snapshot source broke");
                }
                int n = Math.min(len, left);
                left -= n;
                return n;
            }
        };
        EngineException e = assertThrows(EngineException.class, () -> source.upload(name, ContainerFormat.BARE,
                DiskFormat.RAW, Map.of(), failing, null));
        assertTrue(e.getMessage().contains("upload of image"), e.getMessage());
        assertTrue(source.list(new ImageQuery(name, null, null, null, null, null, 0)).isEmpty(),
                "the half-created image was deleted");
    }

    @Test
    void deletedImagesAreNotFound() {
        ImageInfo info = upload(TestImages.unique("gone"), ContainerFormat.BARE, TestImages.bytes(10, 4), Map.of());
        source.delete(info.id());
        assertTrue(source.find(info.id()).isEmpty());
        assertThrows(NotFoundException.class, () -> source.acquire(info.id(), "x", null));
        assertThrows(NotFoundException.class, () -> source.delete(info.id()));
    }
}
