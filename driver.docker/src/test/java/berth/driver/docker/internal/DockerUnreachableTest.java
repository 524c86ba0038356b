package berth.driver.docker.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.Flavor;
import berth.driver.api.ImageInfo;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SpawnSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An engine that went away between the monitor's last ping and a call: one clear line, nothing half done. */
class DockerUnreachableTest {

    @TempDir
    Path dir;

    @Test
    void callsFailWithOneClearLine() throws Exception {
        String host = "unix://" + dir.resolve("gone.sock");
        DockerEngine engine = new DockerEngine(new DockerSettings(host, false, ""), "20.10", "1.41", true);
        Path tar = Files.write(dir.resolve("rootfs.tar"), new byte[1024]);
        ImageInfo info = new ImageInfo(UUID.randomUUID().toString(), "x", "local", ContainerFormat.BARE,
                DiskFormat.RAW, 1024, null, null, null, "active", List.of(),
                Map.of(ImageInfo.COMMAND_LINE, "sleep 1"), Instant.now());
        LocalImage image = new LocalImage(info, tar, "0".repeat(64));
        try (DockerComputeDriver driver = new DockerComputeDriver(engine,
                new DockerComputeDriver.Options("unreachable", dir, false))) {
            assertTrue(driver.list().isEmpty());
            EngineException e = assertThrows(EngineException.class, () -> driver.spawn(new SpawnSpec(
                    UUID.randomUUID().toString(), "x", new Flavor("f", 64, 1, 64), image, Map.of(), List.of())));
            assertTrue(e.getMessage().contains("does not answer") && e.getMessage().contains(host), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertThrows(EngineException.class, () -> driver.hostResources());
        }
    }
}
