package berth.driver.docker.internal;

import berth.driver.api.ContainerFormat;
import berth.driver.api.ImageQuery;
import berth.driver.api.spi.LocalImage;
import berth.image.glance.internal.local.LocalImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Assertions;

/** Where the tests find dockerd, their own state directory and the seeded busybox images. */
final class DockerTestEngine {
    static final String HOST_PROPERTY = "berth.test.docker.host";
    static final String HOST_ENV = "BERTH_TEST_DOCKER_HOST";

    private DockerTestEngine() {
    }

    static String host() {
        String h = System.getProperty(HOST_PROPERTY);
        if (h == null || h.isBlank()) {
            h = System.getenv(HOST_ENV);
        }
        return h == null || h.isBlank() ? DockerSettings.DEFAULT_HOST : h;
    }

    static Path stateDir(String name) throws IOException {
        Path base = Path.of(System.getProperty("berth.test.state.dir",
                System.getProperty("java.io.tmpdir") + "/berth-test-state"));
        Files.createDirectories(base);
        return Files.createTempDirectory(base, name + "-");
    }

    static String newScope() {
        return "test-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** @return the engine, or why it cannot be reached */
    static Result<DockerEngine> probe(DockerSettings settings) {
        try (DockerSettings.Clients c = settings.connect(Duration.ofSeconds(5))) {
            c.docker().pingCmd().exec();
            var version = c.getJson("/version");
            var info = c.getJson("/info");
            return new Result<>(new DockerEngine(settings, version.path("Version").asText(),
                    version.path("ApiVersion").asText(), info.path("LiveRestoreEnabled").asBoolean()), null);
        } catch (Exception e) {
            return new Result<>(null, "dockerd at " + settings.host() + " does not answer (" + e.getMessage()
                    + "); set -D" + HOST_PROPERTY + " or " + HOST_ENV);
        }
    }

    record Result<T>(T value, String problem) {
        Optional<String> missing() {
            return Optional.ofNullable(problem);
        }
    }

    /** Skips, or fails under CI=true, when something the test needs is missing. */
    static void require(boolean condition, String what) {
        if (!condition) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                Assertions.fail(what + " (CI=true)");
            }
            Assumptions.abort(what);
        }
    }

    static LocalImage seeded(LocalImageStore store, ContainerFormat format, String holder) {
        var image = store.list(new ImageQuery("busybox", format, null, "active", null, null, 0)).get(0);
        return store.acquire(image.id(), holder, null);
    }
}
