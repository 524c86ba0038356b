package berth.driver.lxc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.PowerState;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SpawnSpec;
import berth.driver.lxc.internal.image.SafeTarExtractor;
import berth.driver.lxc.internal.jna.Liblxc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The idmap option: the container's root is host uid 100000, the base is unpacked shifted. */
class LxcUnprivilegedTest {

    @Test
    void idmappedContainersRunAsShiftedRoot() throws Exception {
        Liblxc lxc = LxcTestSupport.requireLxc();
        Path lxcpath = LxcTestSupport.testLxcPath("userns-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(lxcpath);
        LxcSettings s = new LxcSettings(lxcpath, "test-userns", false,
                List.of("u 0 100000 65536", "g 0 100000 65536"), Path.of("/bin/busybox"), "lxc", Path.of("/usr/bin"),
                LxcSettings.DEFAULT_SECCOMP);
        LxcTestSupport.require(LxcEngine.problems(s).isEmpty(), String.join("; ", LxcEngine.problems(s)));
        LxcComputeDriver driver = new LxcComputeDriver(new LxcEngine(lxc, s));
        String uuid = UUID.randomUUID().toString();
        try {
            LocalImage image = TestTars.localImage(new TestTars().busyboxRoot().writeTo(
                    Files.createTempFile("userns", ".tar")), ContainerFormat.BARE);
            DriverInstance d = driver.spawn(new SpawnSpec(uuid, "userns", new Flavor("c1.nano", 64, 1, 64), image,
                    Map.of(), List.of("/bin/sleep", "1000")));
            assertEquals(PowerState.RUNNING, d.powerState());
            String uidMap = Files.readString(Path.of("/proc", Long.toString(d.initPid()), "uid_map"));
            assertTrue(uidMap.strip().matches("0\\s+100000\\s+65536"), uidMap);
            ExecResult id = driver.exec(uuid, List.of("id", "-u"), Map.of(), Duration.ofSeconds(10));
            assertEquals("0\n", id.stdout(), id.toString());
            ExecResult w = driver.exec(uuid, List.of("/bin/sh", "-c", "echo hi > /root/x && cat /root/x"), Map.of(),
                    Duration.ofSeconds(10));
            assertEquals("hi\n", w.stdout(), w.toString());
            ExecResult m = driver.exec(uuid, List.of("mount", "-t", "tmpfs", "none", "/tmp"), Map.of(),
                    Duration.ofSeconds(10));
            assertNotEquals(0, m.exitCode());
            assertEquals(PowerState.SHUTDOWN, driver.powerOff(uuid, Duration.ofSeconds(5)).powerState());
        } finally {
            driver.destroy(uuid);
            driver.close();
            SafeTarExtractor.deleteTree(lxcpath);
        }
    }
}
