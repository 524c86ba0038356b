package berth.driver.docker.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DockerEngineMonitorTest {

    @Test
    void announcesTheEngineWhileItAnswers() throws Exception {
        DockerSettings settings = new DockerSettings(DockerTestEngine.host(), false, "");
        DockerTestEngine.require(DockerTestEngine.probe(settings).value() != null, "dockerd does not answer");
        LinkedBlockingQueue<Optional<DockerEngine>> changes = new LinkedBlockingQueue<>();
        try (DockerEngineMonitor monitor = new DockerEngineMonitor(settings, Duration.ofMillis(200), changes::add)) {
            Optional<DockerEngine> first = changes.poll(30, TimeUnit.SECONDS);
            assertNotNull(first, "no announcement within 30 s");
            assertTrue(first.isPresent());
            assertFalse(first.get().version().isEmpty());
            assertTrue(monitor.engine().isPresent());
        }
        Optional<DockerEngine> last = changes.poll(10, TimeUnit.SECONDS);
        assertTrue(last != null && last.isEmpty(), "closing withdraws the marker");
    }

    @Test
    void saysNothingForAnEngineThatIsNotThere() throws Exception {
        Path nowhere = Path.of("/tmp", "berth-no-docker-" + System.nanoTime() + ".sock");
        LinkedBlockingQueue<Optional<DockerEngine>> changes = new LinkedBlockingQueue<>();
        try (DockerEngineMonitor monitor = new DockerEngineMonitor(new DockerSettings("unix://" + nowhere, false, ""),
                Duration.ofMillis(100), changes::add)) {
            assertTrue(changes.poll(1, TimeUnit.SECONDS) == null, "no marker without an engine");
            assertTrue(monitor.engine().isEmpty());
        }
    }
}
