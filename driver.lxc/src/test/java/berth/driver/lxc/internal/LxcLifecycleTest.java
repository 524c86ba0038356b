package berth.driver.lxc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Diagnostics;
import berth.driver.api.EngineException;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.HostResources;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import berth.driver.lxc.internal.image.SafeTarExtractor;
import berth.driver.lxc.internal.jna.Liblxc;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Lifecycle against real LXC, as root, in a private lxcpath and scope. */
class LxcLifecycleTest {
    static final Flavor NANO = new Flavor("c1.nano", 64, 1, 64);
    static Path lxcpath;
    static Path images;
    static LxcComputeDriver driver;
    static LocalImage rootfs;
    static LocalImage docker;

    final List<String> spawned = new java.util.ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        Liblxc lxc = LxcTestSupport.requireLxc();
        lxcpath = LxcTestSupport.testLxcPath("lifecycle-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(lxcpath);
        images = Files.createDirectories(lxcpath.resolveSibling(lxcpath.getFileName() + "-images"));
        rootfs = TestTars.localImage(new TestTars().busyboxRoot().writeTo(images.resolve("busybox-rootfs.tar")),
                ContainerFormat.BARE);
        byte[] l0 = new TestTars().busyboxRoot().file("etc/motd", "layer0").bytes();
        byte[] l1 = new TestTars().file("etc/.wh.motd", "").file("etc/hello", "layer1").bytes();
        docker = TestTars.localImage(TestTars.dockerSave(images.resolve("busybox-docker.tar"),
                "[\"/bin/sh\",\"-c\",\"echo docker-cmd $GREETING; exec sleep 1000\"]",
                "[\"PATH=/bin\",\"GREETING=hi\"]", l0, l1), ContainerFormat.DOCKER);
        driver = new LxcComputeDriver(new LxcEngine(lxc, LxcSettings.of(lxcpath, "test-lxc")));
    }

    @AfterAll
    static void tearDown() throws IOException {
        if (driver != null) {
            for (DriverInstance d : driver.list()) {
                driver.destroy(d.uuid());
            }
            driver.close();
            SafeTarExtractor.deleteTree(lxcpath);
            SafeTarExtractor.deleteTree(images);
        }
    }

    @AfterEach
    void destroySpawned() throws IOException {
        for (String u : spawned) {
            driver.destroy(u);
            assertFalse(Files.exists(lxcpath.resolve("berth-" + u)));
            assertNoCgroupsLeft(u);
        }
    }

    static void assertNoCgroupsLeft(String uuid) throws IOException {
        // Leftovers of a monitor still tearing down are removed in the background: allow a bounded wait.
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (LxcComputeDriver.cgroupsLeft(uuid) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try (Stream<Path> s = Files.list(Path.of("/sys/fs/cgroup"))) {
            for (Path h : s.toList()) {
                assertFalse(Files.exists(h.resolve("lxc.monitor.berth-" + uuid)), "monitor cgroup left in " + h);
                assertFalse(Files.exists(h.resolve("lxc.payload.berth-" + uuid)), "payload cgroup left in " + h);
            }
        }
    }

    String spawn(LocalImage image, List<String> cmd, Map<String, String> env) {
        String uuid = UUID.randomUUID().toString();
        spawned.add(uuid);
        DriverInstance d = driver.spawn(new SpawnSpec(uuid, "host-" + uuid.substring(0, 8), NANO, image, env, cmd));
        assertEquals(uuid, d.uuid());
        return uuid;
    }

    static ExecResult sh(String uuid, String script) {
        return driver.exec(uuid, List.of("/bin/sh", "-c", script), Map.of(), Duration.ofSeconds(20));
    }

    @Test
    void spawnRunsTheCommandWithHostnameEnvAndLimits() throws Exception {
        String uuid = spawn(rootfs, List.of("/bin/sh", "-c", "echo started $FOO; exec sleep 1000"), Map.of("FOO", "bar"));
        DriverInstance d = driver.info(uuid);
        assertEquals(PowerState.RUNNING, d.powerState());
        assertTrue(d.initPid() > 0);
        assertEquals("berth-" + uuid, d.engineId());
        assertEquals(rootfs.info().id(), d.imageId());
        assertEquals("host-" + uuid.substring(0, 8) + "\n", sh(uuid, "hostname").stdout());
        ExecResult env = driver.exec(uuid, List.of("/bin/sh", "-c", "echo $FOO $X"), Map.of("X", "y"),
                Duration.ofSeconds(10));
        assertEquals("bar y\n", env.stdout());
        ExecResult fail = sh(uuid, "echo out; echo err >&2; exit 3");
        assertEquals(3, fail.exitCode());
        assertEquals("out\n", fail.stdout());
        assertEquals("err\n", fail.stderr());
        // Limits read back from the container's own cgroup files (cgroup v1 here).
        String limits = sh(uuid, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares "
                + "/sys/fs/cgroup/pids/pids.max").stdout();
        assertEquals(List.of(Long.toString(64L << 20), "1024", "64"), List.of(limits.strip().split("\n")));
        Diagnostics diag = driver.diagnostics(uuid);
        assertEquals(64L << 20, diag.memoryLimitBytes());
        assertEquals(64, diag.pidsLimit());
        assertTrue(diag.pids() >= 2, "init and workload: " + diag);
        assertTrue(diag.cpuTimeNanos() > 0);
        assertTrue(diag.memoryBytes() > 0);
        waitFor(() -> driver.consoleOutput(uuid, 10).contains("started bar"), "console shows the workload output");
        assertEquals(List.of(uuid), driver.list().stream().map(DriverInstance::uuid).filter(uuid::equals).toList());
        assertThrows(ConflictException.class, () -> driver.spawn(new SpawnSpec(uuid, "x", NANO, rootfs, Map.of(),
                List.of())));
    }

    @Test
    void theConsoleLogIsBoundedAndTailSpansTheRotation() throws Exception {
        String uuid = spawn(rootfs, List.of("/bin/sh", "-c",
                "i=0; while [ $i -lt 20000 ]; do echo \"console line $i ................\"; i=$((i+1)); done;"
                        + " echo last-line; exec sleep 1000"), Map.of());
        waitFor(() -> driver.consoleOutput(uuid, 1).contains("last-line"), "the last line");
        Path log = lxcpath.resolve("berth-" + uuid).resolve("console.log");
        long total = Files.size(log) + Files.size(log.resolveSibling("console.log.1"));
        assertTrue(total <= 2 * LxcContainerConfig.CONSOLE_BYTES, "bounded: " + total);
        String tail = driver.consoleOutput(uuid, 3000);
        assertEquals(3000, tail.split("\n").length);
        assertTrue(tail.contains("console line 19998"), "the newest lines");
    }

    @Test
    void theContainerCannotMountAFilesystem() {
        String uuid = spawn(rootfs, List.of(), Map.of());
        ExecResult r = sh(uuid, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t");
        assertNotEquals(0, r.exitCode(), "mount must fail without CAP_SYS_ADMIN: " + r);
        ExecResult caps = sh(uuid, "grep CapBnd /proc/self/status");
        assertTrue(caps.stdout().contains("00000000a80425fb"), "Docker's default capability set: " + caps.stdout());
    }

    @Test
    void powerOffIsQuickAndEndsInShutdownWhileAnUnrequestedExitIsCrashed() throws Exception {
        String uuid = spawn(rootfs, List.of("/bin/sleep", "1000"), Map.of());
        long t0 = System.nanoTime();
        DriverInstance off = driver.powerOff(uuid, Duration.ofSeconds(30));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("[lxc] powerOff with SIGTERM forwarded to the workload took " + ms + " ms");
        assertEquals(PowerState.SHUTDOWN, off.powerState());
        assertEquals(0, off.initPid());
        assertEquals(143, off.exitCode(), "sleep died of the forwarded SIGTERM");
        DriverInstance on = driver.powerOn(uuid);
        assertEquals(PowerState.RUNNING, on.powerState());
        // The workload dies on its own with a non-zero status: CRASHED, found by the watcher without a call.
        sh(uuid, "kill -9 $(pidof sleep)");
        waitFor(() -> driver.list().stream().anyMatch(d -> d.uuid().equals(uuid)
                && d.powerState() == PowerState.CRASHED), "list() shows CRASHED");
        assertEquals(137, driver.info(uuid).exitCode());
        // A clean exit is SHUTDOWN.
        String clean = spawn(rootfs, List.of("/bin/true"), Map.of());
        waitFor(() -> driver.info(clean).powerState() == PowerState.SHUTDOWN, "clean exit is SHUTDOWN");
        assertEquals(0, driver.info(clean).exitCode());
    }

    @Test
    void aStopRightAfterTheStartStillReachesTheWorkload() {
        String uuid = spawn(rootfs, List.of("/bin/sleep", "1000"), Map.of());
        for (int i = 0; i < 15; i++) {
            DriverInstance off = driver.powerOff(uuid, Duration.ofSeconds(20));
            assertEquals(PowerState.SHUTDOWN, off.powerState());
            assertEquals(143, off.exitCode(), "SIGTERM, not the SIGKILL after the grace period");
            driver.powerOn(uuid);
        }
    }

    @Test
    void aPlantedFifoOrSymlinkAsTheExitFileNeitherBlocksNorLeaks() throws Exception {
        String uuid = spawn(rootfs, List.of("/bin/true"), Map.of());
        waitFor(() -> driver.info(uuid).powerState() == PowerState.SHUTDOWN, "exit 0");
        Path exit = lxcpath.resolve("berth-" + uuid).resolve("run").resolve("exit");
        Path hostFile = lxcpath.resolveSibling("host-secret-" + uuid);
        Files.writeString(hostFile, "7\n");
        try {
            // What a container's root could put into its /.berth/run bind mount.
            Files.delete(exit);
            Files.createSymbolicLink(exit, hostFile);
            assertEquals(-1, driver.info(uuid).exitCode(), "the link is not followed");
            Files.delete(exit);
            assertEquals(0, new ProcessBuilder("mkfifo", exit.toString()).start().waitFor());
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10),
                    () -> assertEquals(-1, driver.info(uuid).exitCode()), "a FIFO does not block");
        } finally {
            Files.deleteIfExists(hostFile);
        }
    }

    @Test
    void rebootSoftAndHardGiveANewInit() {
        String uuid = spawn(rootfs, List.of("/bin/sleep", "1000"), Map.of());
        long pid = driver.info(uuid).initPid();
        DriverInstance soft = driver.reboot(uuid, RebootType.SOFT, Duration.ofSeconds(10));
        assertEquals(PowerState.RUNNING, soft.powerState());
        assertNotEquals(pid, soft.initPid());
        DriverInstance hard = driver.reboot(uuid, RebootType.HARD, Duration.ofSeconds(10));
        assertEquals(PowerState.RUNNING, hard.powerState());
        assertNotEquals(soft.initPid(), hard.initPid());
    }

    @Test
    void pauseAndSuspendUseTheFreezer() {
        String uuid = spawn(rootfs, List.of(), Map.of());
        long t0 = System.nanoTime();
        assertEquals(PowerState.PAUSED, driver.pause(uuid).powerState());
        System.out.println("[lxc] pause took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        assertEquals("FROZEN", driver.diagnostics(uuid).extra().get("freezer.state"));
        assertThrows(ConflictException.class, () -> driver.exec(uuid, List.of("true"), Map.of(), Duration.ofSeconds(5)));
        assertEquals(PowerState.RUNNING, driver.unpause(uuid).powerState());
        assertEquals(PowerState.SUSPENDED, driver.suspend(uuid).powerState());
        assertThrows(ConflictException.class, () -> driver.unpause(uuid));
        assertEquals(PowerState.RUNNING, driver.resume(uuid).powerState());
        assertEquals("freezer", driver.hostResources().extra().get("suspend.mode"));
        // A paused container can still be powered off, rebooted hard and destroyed.
        driver.pause(uuid);
        assertEquals(PowerState.SHUTDOWN, driver.powerOff(uuid, Duration.ofSeconds(5)).powerState());
        driver.powerOn(uuid);
        driver.suspend(uuid);
        assertEquals(PowerState.RUNNING, driver.reboot(uuid, RebootType.HARD, Duration.ofSeconds(5)).powerState());
        driver.pause(uuid);
        driver.destroy(uuid); // would throw if the frozen container did not stop
        spawned.remove(uuid);
        assertThrows(NotFoundException.class, () -> driver.info(uuid));
    }

    @Test
    void dockerArchivesBootWithTheirConfigAndFlattenedLayers() throws Exception {
        String uuid = spawn(docker, List.of(), Map.of());
        assertEquals(PowerState.RUNNING, driver.info(uuid).powerState());
        waitFor(() -> driver.consoleOutput(uuid, 5).contains("docker-cmd hi"), "Cmd and Env from the config");
        ExecResult r = sh(uuid, "cat /etc/hello; ls /etc/motd 2>&1 || true");
        assertTrue(r.stdout().startsWith("layer1"), r.stdout());
        assertTrue(r.stdout().contains("No such file"), "whiteout removed motd: " + r.stdout());
    }

    @Test
    void snapshotStreamsTheMergedRootfs() throws Exception {
        String uuid = spawn(rootfs, List.of(), Map.of());
        assertEquals(0, sh(uuid, "echo changed > /root/note; rm /etc/group").exitCode());
        for (boolean running : new boolean[] {true, false}) {
            if (!running) {
                driver.powerOff(uuid, Duration.ofSeconds(5));
            }
            java.util.Set<String> names = new java.util.HashSet<>();
            String note = null;
            try (SnapshotStream s = driver.snapshot(uuid)) {
                assertEquals(ContainerFormat.BARE, s.containerFormat());
                TarArchiveInputStream tar = new TarArchiveInputStream(s.data());
                TarArchiveEntry e;
                while ((e = tar.getNextEntry()) != null) {
                    names.add(e.getName());
                    if (e.getName().equals("root/note")) {
                        note = new String(tar.readAllBytes());
                    }
                }
            }
            assertEquals("changed\n", note);
            assertTrue(names.contains("bin/busybox"));
            assertTrue(names.contains("etc/passwd"));
            assertFalse(names.contains("etc/group"), "deletion in the upper layer is honoured");
            assertFalse(names.stream().anyMatch(n -> n.startsWith(".berth")), "Berth's mounts are left out");
        }
        try (Stream<Path> s = Files.list(lxcpath)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().startsWith(".snap-")), "snapshot mount removed");
        }
    }

    @Test
    void aFailedSpawnLeavesNothing() throws Exception {
        String uuid = UUID.randomUUID().toString();
        // A busybox path that does not exist makes lxc-start fail after the folder was written.
        LxcComputeDriver broken = new LxcComputeDriver(new LxcEngine(Liblxc.load("lxc"), new LxcSettings(lxcpath,
                "test-lxc", false, List.of(), Path.of("/nonexistent/busybox"), "lxc", Path.of("/usr/bin"), "")));
        try {
            EngineException e = assertThrows(EngineException.class, () -> broken.spawn(new SpawnSpec(uuid, "h",
                    NANO, rootfs, Map.of(), List.of())));
            assertTrue(e.getMessage().contains("lxc-start"), e.getMessage());
        } finally {
            broken.close();
        }
        assertFalse(Files.exists(lxcpath.resolve("berth-" + uuid)), "no container folder left");
        assertNoCgroupsLeft(uuid);
        assertThrows(NotFoundException.class, () -> driver.info(uuid));
        try (Liblxc.Container c = Liblxc.load("lxc").open("berth-" + uuid, lxcpath.toString())) {
            assertFalse(c.isDefined());
        }
    }

    @Test
    void aNewDriverSweepsWhatACrashLeftAndReleasesUnusedBases() throws Exception {
        // What a kill -9 during spawn or destroy leaves: a folder without labels, a trash folder.
        Path half = Files.createDirectories(lxcpath.resolve("berth-" + UUID.randomUUID()).resolve("delta"));
        Path trash = Files.createDirectories(lxcpath.resolve(".del-x").resolve("delta"));
        Path tmpBase = Files.createDirectories(lxcpath.resolve(".images").resolve(".tmp-abc").resolve("rootfs"));
        String uuid = spawn(rootfs, List.of(), Map.of());
        LxcComputeDriver again = new LxcComputeDriver(new LxcEngine(Liblxc.load("lxc"), LxcSettings.of(lxcpath,
                "test-lxc")));
        try {
            assertFalse(Files.exists(half.getParent()), "half-spawned folder swept");
            assertFalse(Files.exists(trash.getParent()), "trash swept");
            assertFalse(Files.exists(tmpBase.getParent()), "partial base swept");
            assertEquals(PowerState.RUNNING, again.info(uuid).powerState(), "the running instance is adopted");
            Path base = lxcpath.resolve(".images").resolve(rootfs.sha256());
            assertTrue(Files.isDirectory(base));
            again.releaseImage(rootfs.info().id());
            assertTrue(Files.isDirectory(base), "a base in use stays");
            again.destroy(uuid);
            spawned.remove(uuid);
            again.releaseImage(rootfs.info().id());
            assertFalse(Files.exists(base), "an unused base is deleted on release");
        } finally {
            again.close();
        }
    }

    @Test
    void execTimesOutAndHostResourcesCount() {
        String uuid = spawn(rootfs, List.of(), Map.of());
        ExecResult r = driver.exec(uuid, List.of("sleep", "30"), Map.of(), Duration.ofSeconds(1));
        assertEquals(137, r.exitCode());
        HostResources h = driver.hostResources();
        assertTrue(h.instances() >= 1);
        assertTrue(h.vcpusUsed() >= 1);
        assertTrue(h.memoryBytes() > 0);
        assertEquals("lxc", h.backend());
    }

    @Test
    void otherScopesAreInvisible() {
        String uuid = spawn(rootfs, List.of(), Map.of());
        LxcComputeDriver other = new LxcComputeDriver(new LxcEngine(Liblxc.load("lxc"), LxcSettings.of(lxcpath,
                "someone-else")));
        try {
            assertTrue(other.list().stream().noneMatch(d -> d.uuid().equals(uuid)));
            assertThrows(NotFoundException.class, () -> other.info(uuid));
            assertThrows(NotFoundException.class, () -> other.destroy(uuid));
        } finally {
            other.close();
        }
        assertEquals(PowerState.RUNNING, driver.info(uuid).powerState());
    }

    static void waitFor(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting: " + what);
            }
            Thread.sleep(50);
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toByteArray();
    }
}
