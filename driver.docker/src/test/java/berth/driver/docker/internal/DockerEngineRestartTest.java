package berth.driver.docker.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.driver.api.ContainerFormat;
import berth.driver.api.Flavor;
import berth.driver.api.PowerState;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.SpawnSpec;
import berth.image.glance.internal.local.LocalImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * dockerd stopped and started again during a run, on a private dockerd of the test's own (socket, data-root,
 * exec-root, pidfile; no bridge, no iptables; {@code --live-restore}), so no user's engine is touched: the monitor's
 * marker goes away and comes back, the container survives and a new driver finds it running with the same pid.
 */
@Timeout(300)
class DockerEngineRestartTest {

    private Path dir;
    private Process dockerd;
    private DockerEngineMonitor monitor;
    private final LinkedBlockingQueue<Optional<DockerEngine>> changes = new LinkedBlockingQueue<>();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void startPrivateDockerd() throws Exception {
        Path dockerdBin = Path.of("/usr/sbin/dockerd");
        DockerTestEngine.require(Files.isExecutable(dockerdBin), "dockerd is not installed (apt-get install docker.io)");
        DockerTestEngine.require("root".equals(System.getProperty("user.name")), "a private dockerd needs root");
        DockerTestEngine.require(Files.isRegularFile(Path.of("/bin/busybox")), "busybox-static is not installed");
        // unix socket paths are limited to 108 bytes, so the engine's directories live in a short /tmp path
        dir = Files.createTempDirectory(Path.of("/tmp"), "bdt");
        startDockerd();
    }

    private String host() {
        return "unix://" + dir.resolve("d.sock");
    }

    private void startDockerd() throws IOException {
        List<String> cmd = List.of("/usr/sbin/dockerd", "--host", host(), "--data-root", dir.resolve("data").toString(),
                "--exec-root", dir.resolve("x").toString(), "--pidfile", dir.resolve("d.pid").toString(),
                "--bridge=none", "--iptables=false", "--ip-masq=false", "--live-restore", "--log-level=warn");
        dockerd = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("dockerd.log").toFile())).start();
    }

    private void stopDockerd() throws Exception {
        if (dockerd != null && dockerd.isAlive()) {
            dockerd.destroy();
            if (!dockerd.waitFor(60, TimeUnit.SECONDS)) {
                dockerd.destroyForcibly();
                dockerd.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @AfterEach
    void cleanup() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            try {
                closing.get(i).close();
            } catch (Exception e) {
                System.err.println("cleanup: " + e.getMessage());
            }
        }
        if (monitor != null) {
            monitor.close();
        }
        stopDockerd();
        if (dir != null) {
            // live-restore leaves the private containerd running after dockerd exits: stop it too
            Path containerdPid = dir.resolve("x/containerd/containerd.pid");
            if (Files.exists(containerdPid)) {
                long pid = Long.parseLong(Files.readString(containerdPid).strip());
                ProcessHandle.of(pid).ifPresent(p -> {
                    p.destroy();
                    p.onExit().orTimeout(20, TimeUnit.SECONDS).exceptionally(t -> {
                        p.destroyForcibly();
                        return p;
                    }).join();
                });
            }
            // dockerd bind-mounts its data-root onto itself and may leave overlay mounts: unmount, deepest first
            List<String> mounts = new ArrayList<>();
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String point = line.split(" ")[4];
                if (point.startsWith(dir.toString() + "/")) {
                    mounts.add(point);
                }
            }
            mounts.sort(java.util.Comparator.comparingInt(String::length).reversed());
            for (String m : mounts) {
                new ProcessBuilder("umount", "-l", m).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
            }
            new ProcessBuilder("rm", "-rf", "--one-file-system", dir.toString()).inheritIO().start()
                    .waitFor(60, TimeUnit.SECONDS);
        }
    }

    private DockerEngine awaitUp() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end) {
            Optional<DockerEngine> e = changes.poll(1, TimeUnit.SECONDS);
            if (e != null && e.isPresent()) {
                return e.get();
            }
        }
        fail("private dockerd never answered; see " + dir.resolve("dockerd.log"));
        return null;
    }

    private void awaitDown() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end) {
            Optional<DockerEngine> e = changes.poll(1, TimeUnit.SECONDS);
            if (e != null && e.isEmpty()) {
                return;
            }
        }
        fail("the monitor did not notice that dockerd stopped");
    }

    @Test
    void markerFollowsTheEngineAndContainersSurviveARestart() throws Exception {
        DockerSettings settings = new DockerSettings(host(), false, "");
        monitor = new DockerEngineMonitor(settings, Duration.ofMillis(500), changes::add);
        DockerEngine engine = awaitUp();
        assertTrue(engine.liveRestore(), "the private dockerd runs with --live-restore");

        LocalImageStore store = new LocalImageStore(dir.resolve("state/images"), Path.of("/bin/busybox"));
        String scope = DockerTestEngine.newScope();
        DockerComputeDriver.Options options = new DockerComputeDriver.Options(scope, dir.resolve("state"), false);
        DockerComputeDriver first = new DockerComputeDriver(engine, options);
        String uuid = UUID.randomUUID().toString();
        DriverInstance running = first.spawn(new SpawnSpec(uuid, "survivor", new Flavor("t", 64, 1, 64),
                DockerTestEngine.seeded(store, ContainerFormat.DOCKER, uuid), Map.of(), List.of()));
        assertEquals(PowerState.RUNNING, running.powerState());

        stopDockerd();
        awaitDown();
        first.close(); // what DS does when the marker goes
        assertTrue(ProcessHandle.of(running.initPid()).map(ProcessHandle::isAlive).orElse(false),
                "the container's init lives on while dockerd is down");

        startDockerd();
        DockerEngine back = awaitUp();
        try (DockerComputeDriver second = new DockerComputeDriver(back, options)) {
            DriverInstance after = second.info(uuid);
            assertEquals(PowerState.RUNNING, after.powerState());
            assertEquals(running.initPid(), after.initPid(), "the same container, re-adopted");
            assertTrue(second.list().stream().anyMatch(i -> i.uuid().equals(uuid)));
            assertEquals("ok", second.exec(uuid, List.of("echo", "ok"), Map.of(), Duration.ofSeconds(20)).stdout()
                    .strip());
            second.destroy(uuid);
        }
    }
}
