package berth.driver.lxc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.api.ExecResult;
import berth.driver.api.PowerState;
import berth.driver.api.spi.DriverInstance;
import berth.driver.lxc.internal.image.SafeTarExtractor;
import berth.driver.lxc.internal.jna.Liblxc;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A real {@code kill -9} of a JVM in the middle of spawns and destroys; a new driver on the same lxcpath then
 * sweeps half-done work, adopts every container it lists, and can operate on and destroy each of them.
 */
class LxcKillDuringSpawnTest {

    @Test
    void killNineDuringSpawnsThenANewDriverReconciles() throws Exception {
        Liblxc lxc = LxcTestSupport.requireLxc();
        Path lxcpath = LxcTestSupport.testLxcPath("kill9-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(lxcpath);
        Path image = new TestTars().busyboxRoot().writeTo(lxcpath.resolveSibling(lxcpath.getFileName() + ".tar"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                CrashSpawner.class.getName(), lxcpath.toString(), image.toString(), "kill9")
                .redirectErrorStream(true).start();
        LxcComputeDriver d = null;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream()));
            assertEquals("ready", out.readLine(), "child driver started");
            // Let it get some spawns and destroys going, then kill it at an arbitrary point.
            Thread.sleep(1500);
            Process kill = new ProcessBuilder("kill", "-9", Long.toString(child.pid())).start();
            assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
            assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            assertEquals(137, child.exitValue());

            d = new LxcComputeDriver(new LxcEngine(lxc, LxcSettings.of(lxcpath, "kill9")));
            List<DriverInstance> listed = d.list();
            assertFalse(listed.isEmpty(), "the child had spawned some containers");
            try (Stream<Path> s = Files.list(lxcpath)) {
                List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> !n.equals(".images")).toList();
                assertEquals(listed.size(), names.size(), "every folder left is a listed container: " + names);
            }
            int running = 0;
            for (DriverInstance i : listed) {
                assertTrue(i.powerState() == PowerState.RUNNING || i.powerState() == PowerState.CRASHED
                        || i.powerState() == PowerState.SHUTDOWN, i.toString());
                if (i.powerState() == PowerState.RUNNING) {
                    running++;
                    ExecResult r = d.exec(i.uuid(), List.of("echo", "alive"), Map.of(), Duration.ofSeconds(10));
                    assertEquals("alive\n", r.stdout());
                } else {
                    // A spawn cut before its start completed: it starts now.
                    assertEquals(PowerState.RUNNING, d.powerOn(i.uuid()).powerState());
                }
            }
            System.out.println("[lxc] after kill -9: " + listed.size() + " containers adopted, " + running
                    + " were running");
            for (DriverInstance i : listed) {
                d.destroy(i.uuid());
                LxcLifecycleTest.assertNoCgroupsLeft(i.uuid());
            }
            assertEquals(List.of(), d.list());
        } finally {
            child.destroyForcibly();
            if (d != null) {
                d.close();
            }
            // Whatever is left (a failure above) is stopped and removed.
            LxcComputeDriver cleanup = new LxcComputeDriver(new LxcEngine(lxc, LxcSettings.of(lxcpath, "kill9")));
            for (DriverInstance i : cleanup.list()) {
                cleanup.destroy(i.uuid());
            }
            cleanup.close();
            SafeTarExtractor.deleteTree(lxcpath);
            Files.deleteIfExists(image);
        }
    }
}
