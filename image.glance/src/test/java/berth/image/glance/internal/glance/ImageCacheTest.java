package berth.image.glance.internal.glance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.spi.LocalImage;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache on its own: bytes come from memory, the files are real. */
class ImageCacheTest {
    @TempDir
    Path dir;

    private final AtomicInteger fetches = new AtomicInteger();

    private static ImageInfo info(String id, byte[] data) throws Exception {
        return new ImageInfo(id, id, "t", ContainerFormat.BARE, DiskFormat.RAW, data.length,
                TestImages.hex("MD5", data), "sha512", TestImages.hex("SHA-512", data), "active", List.of(), Map.of(),
                null);
    }

    /** Feeds {@code served} to the cache in 16 KB pieces, as HttpClient would. */
    private ImageCache.Fetch fetch(ImageInfo info, byte[] served) {
        return sink -> {
            fetches.incrementAndGet();
            try {
                for (int off = 0; off < served.length; off += 16384) {
                    sink.accept(ByteBuffer.wrap(served, off, Math.min(16384, served.length - off)));
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    private ImageCache cache(long max) {
        return new ImageCache(dir, max, new ObjectMapper(), Clock.systemUTC());
    }

    @Test
    void verifiedBytesAreCachedAndSurviveARestart() throws Exception {
        byte[] data = TestImages.bytes(3_000_000, 1);
        ImageInfo info = info("img-1", data);
        LocalImage a = cache(1 << 30).acquire(info, "image " + info.id(), "vm1", fetch(info, data), () -> { }, null);
        assertArrayEquals(data, Files.readAllBytes(a.file()));
        assertEquals(TestImages.hex("SHA-256", data), a.sha256());

        ImageCache restarted = cache(1 << 30);
        LocalImage b = restarted.acquire(info, "image " + info.id(), "vm2", fetch(info, data), () -> { }, null);
        assertEquals(1, fetches.get(), "found on disk, checked, not downloaded again");
        assertEquals(a.file(), b.file());
        assertEquals(Set.of("vm1", "vm2"), restarted.holders("img-1"));
    }

    @Test
    void aFileDamagedOnDiskIsDownloadedAgainAfterARestart() throws Exception {
        byte[] data = TestImages.bytes(500_000, 2);
        ImageInfo info = info("img-2", data);
        LocalImage a = cache(1 << 30).acquire(info, "image " + info.id(), "vm1", fetch(info, data), () -> { }, null);
        byte[] damaged = data.clone();
        damaged[1234] ^= 1;
        Files.write(a.file(), damaged);

        ImageCache restarted = cache(1 << 30);
        LocalImage b = restarted.acquire(info, "image " + info.id(), "vm2", fetch(info, data), () -> { }, null);
        assertEquals(2, fetches.get());
        assertArrayEquals(data, Files.readAllBytes(b.file()));
        assertEquals(Set.of("vm1", "vm2"), restarted.holders("img-2"), "holders carried over");
    }

    @Test
    void badBytesLeaveNothingBehind() throws Exception {
        byte[] data = TestImages.bytes(200_000, 3);
        ImageInfo info = info("img-3", data);
        byte[] wrong = data.clone();
        wrong[7] ^= 1;
        ImageCache cache = cache(1 << 30);
        EngineException e = assertThrows(EngineException.class,
                () -> cache.acquire(info, "image " + info.id(), "vm", fetch(info, wrong), () -> { }, null));
        assertTrue(e.getMessage().contains("does not match its checksum"), e.getMessage());
        byte[] shortData = java.util.Arrays.copyOf(data, 1000);
        e = assertThrows(EngineException.class,
                () -> cache.acquire(info, "image " + info.id(), "vm", fetch(info, shortData), () -> { }, null));
        assertTrue(e.getMessage().contains("is short: got 1000 of 200000 bytes"), e.getMessage());
        e = assertThrows(EngineException.class, () -> cache.acquire(info, "image " + info.id(), "vm", fetch(info, data),
                () -> {
                    throw new EngineException("gone meanwhile");
                }, null));
        assertEquals("gone meanwhile", e.getMessage());
        assertEquals(List.of(), TestImages.files(dir));
    }

    @Test
    void leftoversOfACrashAreRemovedAtStart() throws Exception {
        Files.write(dir.resolve(".part-x-1.tmp"), new byte[10]);
        Files.write(dir.resolve("orphan-abc.img"), new byte[10]);
        Files.writeString(dir.resolve("broken-abc.json"), "{not json");
        cache(1 << 30);
        assertEquals(List.of(), TestImages.files(dir));
    }

    @Test
    void evictsUnheldLeastRecentlyUsedFirst() throws Exception {
        ImageCache cache = cache(2_500_000);
        LocalImage[] l = new LocalImage[4];
        for (int i = 0; i < 4; i++) {
            byte[] data = TestImages.bytes(1_000_000, 10 + i);
            ImageInfo info = info("img-lru-" + i, data);
            l[i] = cache.acquire(info, "image " + info.id(), "h", fetch(info, data), () -> { }, null);
            if (i > 0) {
                cache.release(info.id(), "h");
            }
        }
        assertTrue(Files.exists(l[0].file()), "held");
        assertFalse(Files.exists(l[1].file()), "evicted for image 2");
        assertFalse(Files.exists(l[2].file()), "evicted for image 3");
        assertTrue(Files.exists(l[3].file()));
        assertTrue(cache.totalBytes() <= 2_500_000);
    }
}
