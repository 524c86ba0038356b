package berth.driver.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.driver.api.BerthException;
import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Diagnostics;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.HostResources;
import berth.driver.api.ImageInfo;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every Berth backend passes, against its real engine: a backend's test extends this class and says
 * how to reach its driver and the seeded busybox image. The tests use only busybox commands that the seed image
 * links ({@code sh sleep cat echo true false id hostname}), only the SPI, and read limits from the container's own
 * cgroup files (found through {@code /proc/<init pid>/cgroup}), so they hold for any backend.
 *
 * <p>Every instance a test spawns is destroyed after it, whatever happens. When the engine is missing the tests
 * are skipped, unless the environment variable {@code CI} is {@code true}: then they fail.
 */
@Timeout(180)
public abstract class ComputeDriverContract {

    /** The busybox applet list the kit relies on; the seeded image must link them. */
    protected static final List<String> COMMANDS = List.of("sh", "sleep", "cat", "echo", "true", "false", "id",
            "hostname");

    private final List<String> spawned = new ArrayList<>();
    private final List<Path> scratch = new ArrayList<>();

    /** @return the driver under test (called after {@link #engineMissing()} said the engine is there) */
    protected abstract ComputeDriver driver();

    /**
     * @param format a container format
     * @return the seeded busybox image in that format, verified and local (its default command runs forever)
     */
    protected abstract LocalImage image(ContainerFormat format);

    /** @return why the engine cannot be used, or empty when it can */
    protected abstract Optional<String> engineMissing();

    /** @return the format the backend boots natively; the tests spawn from it */
    protected ContainerFormat bootFormat() {
        return ContainerFormat.DOCKER;
    }

    /**
     * @return a second driver over the same engine with a different scope, to check that listing keeps to its
     *         own scope; empty skips that test
     */
    protected Optional<ComputeDriver> otherScopeDriver() {
        return Optional.empty();
    }

    /** Called after each test, after the kit destroyed what it spawned; for backend-specific cleanup. */
    protected void cleanup() {
    }

    /** @return the flavor tests spawn with unless they need another */
    protected Flavor flavor() {
        return new Flavor("tck.small", 64, 1, 64);
    }

    /** @return how long a state change may take to show */
    protected Duration settle() {
        return Duration.ofSeconds(30);
    }

    @BeforeEach
    void requireEngine() {
        Optional<String> missing = engineMissing();
        if (missing.isPresent()) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("engine missing and CI=true: " + missing.get());
            }
            Assumptions.abort("engine missing: " + missing.get());
        }
    }

    @AfterEach
    void destroySpawned() {
        try {
            for (String uuid : spawned) {
                try {
                    driver().destroy(uuid);
                } catch (RuntimeException e) {
                    System.err.println("tck: cannot destroy " + uuid + ": " + e.getMessage());
                }
            }
            for (Path p : scratch) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // temporary file
                }
            }
        } finally {
            spawned.clear();
            scratch.clear();
            cleanup();
        }
    }

    // ------------------------------------------------------------------ helpers for subclasses too

    /** @return a fresh uuid, destroyed after the test */
    protected String newUuid() {
        String uuid = UUID.randomUUID().toString();
        spawned.add(uuid);
        return uuid;
    }

    protected DriverInstance spawn(String uuid, Flavor flavor, LocalImage image, List<String> command) {
        return driver().spawn(new SpawnSpec(uuid, "tck-" + uuid.substring(0, 8), flavor, image,
                Map.of("BERTH_TCK", "1"), command));
    }

    /** Spawns the boot-format busybox running its default long-lived command. */
    protected DriverInstance spawnDefault(String uuid) {
        return spawn(uuid, flavor(), image(bootFormat()), List.of());
    }

    protected DriverInstance awaitState(String uuid, PowerState state) {
        return await(uuid, i -> i.powerState() == state, "power state " + state);
    }

    protected DriverInstance await(String uuid, Predicate<DriverInstance> what, String description) {
        Instant end = Instant.now().plus(settle());
        DriverInstance last = null;
        while (Instant.now().isBefore(end)) {
            last = driver().info(uuid);
            if (what.test(last)) {
                return last;
            }
            sleep(50);
        }
        fail(uuid + " never reached " + description + "; last seen " + last);
        return last;
    }

    protected ExecResult sh(String uuid, String script) {
        return driver().exec(uuid, List.of("sh", "-c", script), Map.of(), Duration.ofSeconds(30));
    }

    protected static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads one of a process's cgroup v1 controller files (or the v2 equivalent) from the host.
     *
     * @param pid        a process in the container
     * @param controller v1 controller, for example {@code memory}
     * @param file       v1 file name, for example {@code memory.limit_in_bytes}
     * @param v2file     the cgroup v2 file holding the same limit
     * @return its trimmed content
     */
    protected static String cgroupFile(long pid, String controller, String file, String v2file) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"));
        for (String line : lines) {
            String[] parts = line.split(":", 3);
            if (parts.length == 3 && List.of(parts[1].split(",")).contains(controller)) {
                return Files.readString(mountOf(controller).resolve(parts[2].substring(1)).resolve(file)).strip();
            }
        }
        for (String line : lines) {
            if (line.startsWith("0::")) {
                return Files.readString(Path.of("/sys/fs/cgroup").resolve(line.substring(4)).resolve(v2file)).strip();
            }
        }
        throw new IOException("no " + controller + " cgroup for pid " + pid + ": " + lines);
    }

    private static Path mountOf(String controller) throws IOException {
        for (String m : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            int dash = m.indexOf(" - ");
            if (dash < 0) {
                continue;
            }
            String[] right = m.substring(dash + 3).split(" ");
            if (right[0].equals("cgroup") && right.length > 2 && List.of(right[2].split(",")).contains(controller)) {
                return Path.of(m.substring(0, dash).split(" ")[4]);
            }
        }
        throw new IOException("cgroup v1 controller " + controller + " is not mounted");
    }

    /** Stores a snapshot's bytes as a local image of their format, as an image source would. */
    protected LocalImage storeSnapshot(SnapshotStream snapshot, String name) throws IOException {
        Path file = Files.createTempFile("berth-tck-snapshot", ".tar");
        scratch.add(file);
        MessageDigest sha = sha256();
        long size;
        try (snapshot; InputStream in = new DigestInputStream(snapshot.data(), sha);
                OutputStream out = Files.newOutputStream(file)) {
            size = in.transferTo(out);
        }
        ImageInfo info = new ImageInfo(UUID.randomUUID().toString(), name, "tck", snapshot.containerFormat(),
                snapshot.diskFormat(), size, null, null, null, "active", List.of(), Map.of(), Instant.now());
        return new LocalImage(info, file, HexFormat.of().formatHex(sha.digest()));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------ the contract

    @Test
    void fullLifecycle() {
        String uuid = newUuid();
        DriverInstance first = spawnDefault(uuid);
        assertEquals(uuid, first.uuid());
        assertEquals(PowerState.RUNNING, first.powerState());
        assertTrue(first.initPid() > 0, "spawn returns the init pid");
        assertTrue(Files.exists(Path.of("/proc", Long.toString(first.initPid()))), "init pid is a live process");
        assertTrue(driver().netnsPath(uuid).isPresent());
        assertTrue(driver().list().stream().anyMatch(i -> i.uuid().equals(uuid)), "listed");
        assertEquals(first.initPid(), driver().info(uuid).initPid());

        DriverInstance off = driver().powerOff(uuid, Duration.ofSeconds(10));
        assertEquals(PowerState.SHUTDOWN, off.powerState(), "a requested stop is SHUTDOWN whatever the exit code");
        assertEquals(0, off.initPid());
        assertTrue(driver().netnsPath(uuid).isEmpty());
        assertEquals(PowerState.SHUTDOWN, driver().info(uuid).powerState());

        DriverInstance on = driver().powerOn(uuid);
        assertEquals(PowerState.RUNNING, on.powerState());
        assertTrue(on.initPid() > 0);
        assertNotEquals(first.initPid(), on.initPid(), "a start gives a new init pid");

        DriverInstance soft = driver().reboot(uuid, RebootType.SOFT, Duration.ofSeconds(10));
        assertEquals(PowerState.RUNNING, soft.powerState());
        assertNotEquals(on.initPid(), soft.initPid());

        DriverInstance hard = driver().reboot(uuid, RebootType.HARD, Duration.ofSeconds(10));
        assertEquals(PowerState.RUNNING, hard.powerState());
        assertNotEquals(soft.initPid(), hard.initPid());

        driver().destroy(uuid);
        assertThrows(NotFoundException.class, () -> driver().info(uuid));
        assertFalse(driver().list().stream().anyMatch(i -> i.uuid().equals(uuid)), "not listed after destroy");
    }

    @Test
    void exitNonZeroOnItsOwnIsCrashed() {
        String uuid = newUuid();
        spawn(uuid, flavor(), image(bootFormat()), List.of("sh", "-c", "sleep 0.2; exit 3"));
        DriverInstance crashed = awaitState(uuid, PowerState.CRASHED);
        assertEquals(3, crashed.exitCode());
        assertEquals(0, crashed.initPid());
        await(uuid, i -> driver().list().stream().anyMatch(l -> l.uuid().equals(uuid)
                && l.powerState() == PowerState.CRASHED), "CRASHED in list()");
    }

    @Test
    void exitZeroIsShutdown() {
        String uuid = newUuid();
        spawn(uuid, flavor(), image(bootFormat()), List.of("sh", "-c", "sleep 0.2; true"));
        assertEquals(0, awaitState(uuid, PowerState.SHUTDOWN).exitCode());
    }

    @Test
    void crashedInstanceStartsAgain() {
        String uuid = newUuid();
        spawn(uuid, flavor(), image(bootFormat()), List.of("sh", "-c", "exit 3"));
        awaitState(uuid, PowerState.CRASHED);
        driver().powerOn(uuid);
        assertEquals(3, awaitState(uuid, PowerState.CRASHED).exitCode(), "it ran and crashed again");
    }

    @Test
    void pauseAndUnpause() {
        String uuid = newUuid();
        DriverInstance running = spawnDefault(uuid);
        assertEquals(PowerState.PAUSED, driver().pause(uuid).powerState());
        assertEquals(PowerState.PAUSED, driver().info(uuid).powerState());
        DriverInstance back = driver().unpause(uuid);
        assertEquals(PowerState.RUNNING, back.powerState());
        assertEquals(running.initPid(), back.initPid(), "unpause keeps the processes");
    }

    @Test
    void suspendAndResume() {
        String uuid = newUuid();
        DriverInstance running = spawnDefault(uuid);
        assertEquals(PowerState.SUSPENDED, driver().suspend(uuid).powerState());
        assertEquals(PowerState.SUSPENDED, driver().info(uuid).powerState());
        assertTrue(driver().list().stream().anyMatch(i -> i.uuid().equals(uuid)
                && i.powerState() == PowerState.SUSPENDED), "list() says SUSPENDED");
        String mode = driver().hostResources().extra().get("suspend.mode");
        assertTrue(List.of("freezer", "criu").contains(mode), "suspend.mode is freezer or criu, was " + mode);
        assertThrows(ConflictException.class, () -> driver().unpause(uuid), "a suspend is undone by resume");
        DriverInstance back = driver().resume(uuid);
        assertEquals(PowerState.RUNNING, back.powerState());
        if ("freezer".equals(mode)) {
            assertEquals(running.initPid(), back.initPid());
        }
        assertEquals("ok", sh(uuid, "echo ok").stdout().strip());
    }

    @Test
    void limitsAreInTheContainersCgroup() throws IOException {
        String uuid = newUuid();
        Flavor f = new Flavor("tck.limits", 96, 2, 100);
        DriverInstance i = spawn(uuid, f, image(bootFormat()), List.of());
        long pid = i.initPid();
        assertEquals(f.memoryBytes(), Long.parseLong(cgroupFile(pid, "memory", "memory.limit_in_bytes",
                "memory.max")));
        assertEquals("100", cgroupFile(pid, "pids", "pids.max", "pids.max"));
        String shares = cgroupFile(pid, "cpu", "cpu.shares", "cpu.weight");
        if (Files.exists(Path.of("/sys/fs/cgroup/cpu"))) {
            assertEquals("2048", shares, "CPU shares are 1024 per vCPU");
        }
    }

    @Test
    void snapshotThenBootFromItKeepsFiles() throws IOException {
        String uuid = newUuid();
        spawnDefault(uuid);
        String token = "berth-" + new Random().nextInt(1_000_000);
        ExecResult write = sh(uuid, "echo " + token + " > /root/snapshot-marker");
        assertEquals(0, write.exitCode(), write.stderr());
        LocalImage snap;
        try (SnapshotStream s = driver().snapshot(uuid)) {
            snap = storeSnapshot(s, "tck-snapshot");
        }
        assertTrue(snap.info().size() > 0);
        assertEquals(PowerState.RUNNING, driver().info(uuid).powerState(), "a snapshot leaves it running");
        String copy = newUuid();
        DriverInstance booted = spawn(copy, flavor(), snap, List.of("sleep", "1000000"));
        assertEquals(PowerState.RUNNING, booted.powerState());
        assertEquals(token, sh(copy, "cat /root/snapshot-marker").stdout().strip());
        driver().destroy(copy);
        driver().releaseImage(snap.info().id());
    }

    @Test
    void consoleOutputShowsTheWorkload() {
        String uuid = newUuid();
        spawn(uuid, flavor(), image(bootFormat()),
                List.of("sh", "-c", "echo line-one; echo line-two; echo to-stderr >&2; exec sleep 1000000"));
        await(uuid, i -> driver().consoleOutput(uuid, 100).contains("to-stderr"), "console output up to its last line");
        String all = driver().consoleOutput(uuid, 100);
        assertTrue(all.contains("line-one") && all.contains("to-stderr"), all);
        assertFalse(driver().consoleOutput(uuid, 1).contains("line-one"), "tail keeps the last lines");
    }

    @Test
    void execReportsExitCodeOutputAndEnvironment() {
        String uuid = newUuid();
        spawnDefault(uuid);
        ExecResult r = driver().exec(uuid, List.of("sh", "-c", "echo out-$FOO; echo err-$FOO >&2; exit 7"),
                Map.of("FOO", "bar"), Duration.ofSeconds(30));
        assertEquals(7, r.exitCode());
        assertEquals("out-bar", r.stdout().strip());
        assertEquals("err-bar", r.stderr().strip());
        assertEquals(0, driver().exec(uuid, List.of("true"), Map.of(), Duration.ofSeconds(30)).exitCode());
        assertEquals(1, driver().exec(uuid, List.of("false"), Map.of(), Duration.ofSeconds(30)).exitCode());
        assertEquals("1", sh(uuid, "echo $BERTH_TCK").stdout().strip(), "spawn environment reaches the workload");
        assertEquals("tck-" + uuid.substring(0, 8), sh(uuid, "hostname").stdout().strip());
        assertEquals("uid=0(root)", sh(uuid, "id").stdout().strip().split(" ")[0]);
    }

    @Test
    void execTimeoutKillsTheCommand() {
        String uuid = newUuid();
        spawnDefault(uuid);
        long t0 = System.nanoTime();
        ExecResult r = driver().exec(uuid, List.of("sleep", "60"), Map.of(), Duration.ofSeconds(1));
        assertNotEquals(0, r.exitCode());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(50).toNanos(), "returned long before sleep ended");
    }

    @Test
    void execInStoppedInstanceIsAConflict() {
        String uuid = newUuid();
        spawnDefault(uuid);
        driver().powerOff(uuid, Duration.ofSeconds(10));
        assertThrows(ConflictException.class, () -> sh(uuid, "true"));
    }

    @Test
    void corruptImageLeavesNothing() throws IOException {
        LocalImage good = image(bootFormat());
        Path junk = Files.createTempFile("berth-tck-corrupt", ".tar");
        scratch.add(junk);
        byte[] bytes = new byte[64 * 1024];
        new Random(42).nextBytes(bytes);
        Files.write(junk, bytes);
        String sha = HexFormat.of().formatHex(sha256().digest(bytes));
        ImageInfo gi = good.info();
        ImageInfo info = new ImageInfo(UUID.randomUUID().toString(), "corrupt", gi.source(), gi.containerFormat(),
                gi.diskFormat(), bytes.length, null, null, null, "active", List.of(), gi.properties(), Instant.now());
        String uuid = newUuid();
        assertThrows(BerthException.class, () -> spawn(uuid, flavor(), new LocalImage(info, junk, sha), List.of()));
        assertFalse(driver().list().stream().anyMatch(i -> i.uuid().equals(uuid)), "nothing listed");
        assertThrows(NotFoundException.class, () -> driver().info(uuid));
        driver().releaseImage(info.id());
    }

    @Test
    void spawningAnExistingUuidIsAConflict() {
        String uuid = newUuid();
        DriverInstance first = spawnDefault(uuid);
        assertThrows(ConflictException.class, () -> spawnDefault(uuid));
        DriverInstance still = driver().info(uuid);
        assertEquals(PowerState.RUNNING, still.powerState());
        assertEquals(first.initPid(), still.initPid());
    }

    @Test
    void unknownUuids() {
        String uuid = UUID.randomUUID().toString();
        driver().destroy(uuid);
        assertThrows(NotFoundException.class, () -> driver().info(uuid));
        assertThrows(NotFoundException.class, () -> driver().powerOn(uuid));
        assertThrows(NotFoundException.class, () -> driver().exec(uuid, List.of("true"), Map.of(),
                Duration.ofSeconds(5)));
    }

    @Test
    void listShowsOnlyItsOwnScope() {
        Optional<ComputeDriver> other = otherScopeDriver();
        Assumptions.assumeTrue(other.isPresent(), "no second scope offered");
        String mine = newUuid();
        spawnDefault(mine);
        String theirs = UUID.randomUUID().toString();
        try {
            other.get().spawn(new SpawnSpec(theirs, "other", flavor(), image(bootFormat()), Map.of(), List.of()));
            assertTrue(driver().list().stream().anyMatch(i -> i.uuid().equals(mine)));
            assertFalse(driver().list().stream().anyMatch(i -> i.uuid().equals(theirs)), "other scope not listed");
            assertThrows(NotFoundException.class, () -> driver().info(theirs));
            assertFalse(other.get().list().stream().anyMatch(i -> i.uuid().equals(mine)));
        } finally {
            other.get().destroy(theirs);
        }
    }

    @Test
    void diagnosticsArePlausible() {
        String uuid = newUuid();
        spawnDefault(uuid);
        sh(uuid, "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done");
        Diagnostics d = driver().diagnostics(uuid);
        assertEquals(flavor().memoryBytes(), d.memoryLimitBytes());
        assertTrue(d.memoryBytes() > 0 && d.memoryBytes() <= d.memoryLimitBytes(), "memory " + d.memoryBytes());
        assertTrue(d.pids() >= 1 && d.pids() <= flavor().pidsLimit(), "pids " + d.pids());
        assertEquals(flavor().pidsLimit(), d.pidsLimit());
        assertTrue(d.cpuTimeNanos() > 0, "cpu time " + d.cpuTimeNanos());
    }

    @Test
    void hostResourcesCountOurInstances() {
        String uuid = newUuid();
        spawnDefault(uuid);
        HostResources h = driver().hostResources();
        assertEquals(driver().name(), h.backend());
        assertEquals(Runtime.getRuntime().availableProcessors(), h.cpus(), "real CPU count");
        assertTrue(h.memoryBytes() > 0 && h.diskBytes() > 0 && h.diskFreeBytes() > 0, h.toString());
        assertTrue(h.instances() >= 1 && h.vcpusUsed() >= 1 && h.memoryUsedBytes() >= flavor().memoryBytes(),
                h.toString());
        assertTrue(h.extra().containsKey("suspend.mode"));
    }

    /** @return the hex SHA-256 of a string, for subclasses */
    protected static String sha256Hex(String s) {
        return HexFormat.of().formatHex(sha256().digest(s.getBytes(StandardCharsets.UTF_8)));
    }
}
