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
import berth.driver.api.ImageQuery;
import berth.driver.api.NotFoundException;
import berth.driver.api.spi.LocalImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The production path for real: Keystone v3 password → project-scoped token → image endpoint from the catalog →
 * the Glance on 19293 that checks tokens with keystonemiddleware. Also the real glance CLI on both sides.
 */
class GlanceKeystoneTest {
    @TempDir
    Path state;

    private GlanceImageSource source;
    private final List<String> created = new ArrayList<>();

    /** A clock the test can move forward, to bring the token near its expiry without waiting an hour. */
    static final class MovableClock extends Clock {
        private volatile Duration offset = Duration.ZERO;

        void advance(Duration d) {
            offset = offset.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.now().plus(offset);
        }
    }

    @BeforeEach
    void start() {
        GlanceServices.require(GlanceServices.KEYSTONE_URL, "keystone");
        GlanceServices.require(GlanceServices.GLANCE_AUTH_URL, "glance-api (keystone)");
        source = GlanceServices.source(GlanceServices.keystone("ks", state, GlanceServices.PASSWORD,
                Duration.ofMinutes(5), 100));
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
                // already gone
            }
        }
        source.close();
    }

    private KeystoneIdentity keystone(GlanceImageSource s) {
        return (KeystoneIdentity) s.identity();
    }

    @Test
    void passwordTokenCatalogThenGlanceRoundTrip() throws Exception {
        byte[] data = TestImages.bytes(2_000_000, 7);
        String name = TestImages.unique("ks-round-trip");
        ImageInfo info = source.upload(name, ContainerFormat.BARE, DiskFormat.RAW, Map.of("image_location",
                "snapshot"), new ByteArrayInputStream(data), null);
        created.add(info.id());
        assertEquals(URI.create(GlanceServices.GLANCE_AUTH_URL), source.identity().session().endpoint(),
                "Glance's URL came from Keystone's catalog");
        assertEquals(1, keystone(source).authentications());

        assertEquals(info.id(), source.find(name).orElseThrow().id());
        LocalImage local = source.acquire(info.id(), "vm", null);
        assertArrayEquals(data, Files.readAllBytes(local.file()));
        assertEquals(TestImages.hex("SHA-256", data), local.sha256());
        source.release(info.id(), "vm");
        assertEquals(1, keystone(source).authentications(), "one token served every call");
    }

    @Test
    void aRevokedTokenIsRenewedOnceAfterThe401() throws Exception {
        source.list(new ImageQuery(null, null, null, null, null, null, 1));
        String token = source.identity().session().headers().get("X-Auth-Token");
        GlanceServices.revoke(token);

        source.list(new ImageQuery(null, null, null, null, null, null, 1));
        assertEquals(2, keystone(source).authentications(), "Glance refused the revoked token; a new one was taken");
        assertFalse(token.equals(source.identity().session().headers().get("X-Auth-Token")));
    }

    @Test
    void theTokenIsRenewedBeforeItExpires() {
        MovableClock clock = new MovableClock();
        GlanceImageSource s = new GlanceImageSource(GlanceServices.keystone("ks-clock", state,
                GlanceServices.PASSWORD, Duration.ofMinutes(5), 100), clock);
        try {
            s.list(ImageQuery.ALL);
            s.list(ImageQuery.ALL);
            assertEquals(1, keystone(s).authentications());
            // Keystone issues one-hour tokens; 56 minutes on, the token is inside the 5-minute renew margin
            clock.advance(Duration.ofMinutes(56));
            s.list(ImageQuery.ALL);
            assertEquals(2, keystone(s).authentications());
        } finally {
            s.close();
        }
    }

    @Test
    void anExpiredOrRevokedConfiguredTokenIsAClearError() throws Exception {
        String token = GlanceServices.issueToken(GlanceServices.USER, GlanceServices.PASSWORD,
                GlanceServices.PROJECT);
        GlanceImageSource fixed = GlanceServices.source(GlanceServices.token("fixed", state,
                URI.create(GlanceServices.GLANCE_AUTH_URL), token));
        try {
            fixed.list(ImageQuery.ALL);
            GlanceServices.revoke(token);
            EngineException e = assertThrows(EngineException.class, () -> fixed.list(ImageQuery.ALL));
            assertTrue(e.getMessage().contains("401") && e.getMessage().contains("expired or was revoked"),
                    e.getMessage());
            assertFalse(e.getMessage().contains(token));
            assertFalse(fixed.toString().contains(token) || fixed.settings().toString().contains(token));
            assertThrows(EngineException.class, () -> fixed.acquire("00000000-0000-0000-0000-000000000001", "h",
                    null));
            assertTrue(TestImages.files(state.resolve("image-cache")).isEmpty());
        } finally {
            fixed.close();
        }
    }

    @Test
    void aWrongPasswordIsAClearErrorWithoutThePassword() {
        String wrong = "not-the-password-" + System.nanoTime();
        GlanceImageSource s = GlanceServices.source(GlanceServices.keystone("ks-wrong", state, wrong,
                Duration.ofMinutes(5), 100));
        try {
            EngineException e = assertThrows(EngineException.class, () -> s.list(ImageQuery.ALL));
            assertTrue(e.getMessage().contains("refused the password of user '" + GlanceServices.USER + "'"),
                    e.getMessage());
            assertFalse(e.getMessage().contains(wrong));
            assertFalse(s.settings().toString().contains(wrong));
            assertFalse(source.settings().toString().contains(GlanceServices.PASSWORD));
        } finally {
            s.close();
        }
    }

    @Test
    void anImageUploadedWithTheGlanceCliIsFoundAndVerified() throws Exception {
        byte[] data = TestImages.bytes(1_500_000, 8);
        Path file = state.resolve("cli-upload.img");
        Files.write(file, data);
        String name = TestImages.unique("cli-made");
        String out = glanceCli("image-create --name " + name + " --container-format docker --disk-format raw"
                + " --property os_command_line=/bin/sh --file " + file);
        assertTrue(out.contains(name), out);

        ImageInfo info = source.find(name).orElseThrow();
        created.add(info.id());
        assertEquals(ContainerFormat.DOCKER, info.containerFormat());
        assertEquals("/bin/sh", info.properties().get(ImageInfo.COMMAND_LINE));
        LocalImage local = source.acquire(info.id(), "vm", null);
        assertArrayEquals(data, Files.readAllBytes(local.file()));
        source.release(info.id(), "vm");
    }

    @Test
    void aBerthUploadDownloadsWithTheGlanceCliToTheSameBytes() throws Exception {
        byte[] data = TestImages.bytes(1_200_000, 9);
        ImageInfo info = source.upload(TestImages.unique("berth-made"), ContainerFormat.BARE, DiskFormat.RAW,
                Map.of("image_location", "snapshot", "instance_uuid", "6a1f0c9e-5b1e-4d52-9d7a-2d1b3c4d5e6f"),
                new ByteArrayInputStream(data), null);
        created.add(info.id());
        Path out = state.resolve("cli-download.img");
        glanceCli("image-download --file " + out + " " + info.id());
        assertArrayEquals(data, Files.readAllBytes(out));
        String shown = glanceCli("image-show " + info.id());
        assertTrue(shown.contains("snapshot") && shown.contains(info.checksum()), shown);
    }

    /** Runs Debian's glance CLI with the test user's Keystone credentials; stdin closed, as glanceclient wants. */
    private static String glanceCli(String args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", "-c", "exec /usr/bin/glance " + args + " 0<&-");
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("OS_"));
        env.put("OS_AUTH_URL", GlanceServices.KEYSTONE_URL);
        env.put("OS_IDENTITY_API_VERSION", "3");
        env.put("OS_USERNAME", GlanceServices.USER);
        env.put("OS_PASSWORD", GlanceServices.PASSWORD);
        env.put("OS_PROJECT_NAME", GlanceServices.PROJECT);
        env.put("OS_USER_DOMAIN_NAME", "Default");
        env.put("OS_PROJECT_DOMAIN_NAME", "Default");
        env.put("OS_REGION_NAME", GlanceServices.REGION);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        byte[] output = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("glance " + args + " did not finish");
        }
        String text = new String(output, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "glance " + args + ": " + text);
        return text;
    }
}
