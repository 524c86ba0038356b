package berth.image.glance.internal.glance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BerthException;
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
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults between Berth and a real Glance: a loopback fault injector forwards to the Glance on 19292 and breaks
 * one thing per test. Each must end in one clear error and leave nothing in the cache.
 */
class GlanceFaultTest {
    private static final int SIZE = 4 * 1024 * 1024;

    @TempDir
    Path state;

    private GlanceImageSource direct;
    private GlanceImageSource viaProxy;
    private FaultProxy proxy;
    private ImageInfo image;
    private byte[] data;

    @BeforeEach
    void start() throws IOException {
        GlanceServices.require(GlanceServices.GLANCE_URL, "glance-api (no auth)");
        String project = TestImages.unique("berth-fault");
        direct = GlanceServices.source(GlanceServices.noauth("direct", state, project));
        data = TestImages.bytes(SIZE, 42);
        image = direct.upload(TestImages.unique("fault"), ContainerFormat.BARE, DiskFormat.RAW, Map.of(),
                new ByteArrayInputStream(data), null);
        proxy = new FaultProxy(URI.create(GlanceServices.GLANCE_URL));
        viaProxy = GlanceServices.source(GlanceServices.noauth("faulty", proxy.uri(), state, project,
                List.of("member"), 1L << 30, Duration.ofSeconds(2), Duration.ofSeconds(2)));
    }

    @AfterEach
    void stop() throws IOException {
        if (direct == null) {
            return;
        }
        if (viaProxy == null) {
            direct.close();
            return;
        }
        viaProxy.close();
        proxy.close();
        try {
            direct.delete(image.id());
        } catch (NotFoundException e) {
            // the test deleted it
        }
        direct.close();
    }

    private Path cacheDir() {
        return viaProxy.settings().cacheDir();
    }

    private void assertCacheEmpty() throws IOException {
        assertEquals(List.of(), TestImages.files(cacheDir()), "nothing partial left in the cache");
    }

    private <T extends BerthException> T acquireFails(Class<T> type, String expected) throws IOException {
        T e = assertThrows(type, () -> viaProxy.acquire(image.id(), "vm", null));
        System.out.println("[fault] " + e.getClass().getSimpleName() + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "message: " + e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertCacheEmpty();
        return e;
    }

    @Test
    void theProxyPassesACleanDownload() throws Exception {
        LocalImage local = viaProxy.acquire(image.id(), "vm", null);
        assertArrayEquals(data, Files.readAllBytes(local.file()));
    }

    @Test
    void glanceStoppedIsConnectionRefused() throws Exception {
        viaProxy.list(ImageQuery.ALL);
        proxy.close();
        EngineException e = assertThrows(EngineException.class, () -> viaProxy.list(ImageQuery.ALL));
        // A pooled connection the stopped server dropped can make the client wait out its 2 s timeout instead
        // (seen on a loaded 2-core machine): either is a clear answer naming the endpoint.
        assertTrue(e.getMessage().contains("glance 'faulty' at " + proxy.uri()) && (e.getMessage().contains(
                "connection refused") || e.getMessage().contains("no answer within")), e.getMessage());
        EngineException a = assertThrows(EngineException.class, () -> viaProxy.acquire(image.id(), "vm", null));
        assertTrue(a.getMessage().contains("connection refused") || a.getMessage().contains("no answer within"),
                a.getMessage());
        assertTrue(!a.getMessage().contains("\n"), "one line: " + a.getMessage());
        assertCacheEmpty();
    }

    @Test
    void glanceAnswering500() throws Exception {
        proxy.onDownload(FaultProxy.Fault.answer500());
        acquireFails(EngineException.class, "answered HTTP 500 to download image " + image.id());
    }

    @Test
    void glanceTooSlowToAnswer() throws Exception {
        proxy.onDownload(FaultProxy.Fault.delayHeaders(6000));
        acquireFails(EngineException.class, "no answer within 2 s");
    }

    @Test
    void aBodyThatStallsHalfWay() throws Exception {
        proxy.onDownload(FaultProxy.Fault.stallAfter(1_000_000, 8000));
        acquireFails(EngineException.class, "stalled");
    }

    @Test
    void aTruncatedBody() throws Exception {
        proxy.onDownload(FaultProxy.Fault.cutAfter(1_500_000));
        acquireFails(EngineException.class, "image " + image.id() + " from glance 'faulty' broke off after");
    }

    @Test
    void aWrongChecksum() throws Exception {
        proxy.onDownload(FaultProxy.Fault.flipByteAt(SIZE / 2));
        acquireFails(EngineException.class, "does not match its checksum");
    }

    @Test
    void aWrongChecksumFailsAnOpenedStreamAtItsEnd() throws Exception {
        proxy.onDownload(FaultProxy.Fault.flipByteAt(10));
        try (InputStream in = viaProxy.open(image.id())) {
            IOException e = assertThrows(IOException.class, in::readAllBytes);
            assertTrue(e.getMessage().contains("does not match its checksum"), e.getMessage());
        }
    }

    @Test
    void theImageDeletedMidDownload() throws Exception {
        proxy.onDownload(FaultProxy.Fault.throttle(20, 1_000_000, () -> direct.delete(image.id())));
        acquireFails(NotFoundException.class, "was deleted from glance 'faulty' during the download");
    }
}
