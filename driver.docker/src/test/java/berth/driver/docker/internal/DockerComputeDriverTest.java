package berth.driver.docker.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BerthException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Flavor;
import berth.driver.api.PowerState;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.tck.ComputeDriverContract;
import berth.image.glance.internal.local.LocalImageStore;
import com.github.dockerjava.api.exception.NotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The contract test kit against the real dockerd ({@code -Dberth.test.docker.host}, {@code BERTH_TEST_DOCKER_HOST},
 * default the system socket), in a scope and state directory of its own, plus what only Docker has.
 */
class DockerComputeDriverTest extends ComputeDriverContract {

    private static DockerEngine engine;
    private static String missing;
    private static LocalImageStore store;
    private static DockerComputeDriver driver;
    private static DockerComputeDriver other;
    private static DockerSettings.Clients client;

    @BeforeAll
    static void connect() throws IOException {
        DockerSettings settings = new DockerSettings(DockerTestEngine.host(), false, "");
        var probe = DockerTestEngine.probe(settings);
        missing = probe.problem();
        if (missing != null) {
            return;
        }
        engine = probe.value();
        Path state = DockerTestEngine.stateDir("docker-driver");
        store = new LocalImageStore(state.resolve("images"), Path.of("/bin/busybox"));
        driver = new DockerComputeDriver(engine, new DockerComputeDriver.Options(DockerTestEngine.newScope(), state,
                false));
        other = new DockerComputeDriver(engine, new DockerComputeDriver.Options(DockerTestEngine.newScope(), state,
                false));
        client = settings.connect(Duration.ofSeconds(30));
    }

    @AfterAll
    static void disconnect() {
        if (driver == null) {
            return;
        }
        for (DockerComputeDriver d : List.of(driver, other)) {
            for (DriverInstance i : d.list()) {
                d.destroy(i.uuid());
            }
        }
        if (store != null) {
            store.list(berth.driver.api.ImageQuery.ALL).forEach(i -> driver.releaseImage(i.id()));
        }
        driver.close();
        other.close();
        client.close();
    }

    @Override
    protected ComputeDriver driver() {
        return driver;
    }

    @Override
    protected LocalImage image(ContainerFormat format) {
        return DockerTestEngine.seeded(store, format, "tck");
    }

    @Override
    protected Optional<String> engineMissing() {
        if (missing == null && !Files.isRegularFile(Path.of("/bin/busybox"))) {
            return Optional.of("/bin/busybox missing: apt-get install busybox-static");
        }
        return Optional.ofNullable(missing);
    }

    @Override
    protected Optional<ComputeDriver> otherScopeDriver() {
        return Optional.of(other);
    }

    // ------------------------------------------------------------------ Docker only

    @Test
    void imagesAreLoadedOnceUnderBerthTagsOnly() {
        for (ContainerFormat f : ContainerFormat.values()) {
            LocalImage img = image(f);
            String ref = driver.ensureImage(img);
            assertEquals("berth/" + img.info().id() + ":" + img.sha256(), ref);
            var inspected = client.docker().inspectImageCmd(ref).exec();
            // other stores seeded from the same busybox may have tagged the same image: only berth/ tags allowed
            assertTrue(inspected.getRepoTags().contains(ref));
            assertTrue(inspected.getRepoTags().stream().allMatch(t -> t.startsWith("berth/")),
                    "docker load/import adds no tag of its own: " + inspected.getRepoTags());
            assertEquals(ref, driver.ensureImage(img), "loaded once");
            assertEquals(inspected.getId(), client.docker().inspectImageCmd(ref).exec().getId());
        }
    }

    @Test
    void rootfsTarballBootsWithItsCommandLineProperty() {
        String uuid = newUuid();
        DriverInstance i = spawn(uuid, flavor(), image(ContainerFormat.BARE), List.of());
        assertEquals(PowerState.RUNNING, i.powerState());
        var r = sh(uuid, "ps -o args | grep -c '^httpd -f -p 80'");
        assertEquals("1", r.stdout().strip(), r.stdout() + r.stderr());
    }

    @Test
    void containerIsConfiguredAsTheIssueSays() {
        String uuid = newUuid();
        Flavor f = new Flavor("c1.test", 128, 2, 77);
        DriverInstance i = spawn(uuid, f, image(ContainerFormat.DOCKER), List.of());
        var r = client.docker().inspectContainerCmd(i.engineId()).exec();
        assertEquals("berth-" + driver.scope() + "-" + uuid, r.getName().substring(1));
        assertEquals("none", r.getHostConfig().getNetworkMode());
        assertEquals(Boolean.TRUE, r.getHostConfig().getInit());
        assertFalse(Boolean.TRUE.equals(r.getHostConfig().getPrivileged()));
        assertTrue(r.getHostConfig().getCapAdd() == null || r.getHostConfig().getCapAdd().length == 0);
        assertEquals(2048, r.getHostConfig().getCpuShares());
        assertEquals(77L, r.getHostConfig().getPidsLimit());
        assertEquals(uuid, r.getConfig().getLabels().get("berth.instance"));
        assertEquals(driver.scope(), r.getConfig().getLabels().get("berth.scope"));
        assertEquals("c1.test", r.getConfig().getLabels().get("berth.flavor"));
        assertEquals(image(ContainerFormat.DOCKER).info().id(), r.getConfig().getLabels().get("berth.image"));
        assertTrue(Arrays.asList(r.getConfig().getEnv()).contains("BERTH_TCK=1"));
        assertEquals(List.of("httpd", "-f", "-p", "80", "-h", "/var/www"), Arrays.asList(r.getConfig().getCmd()));
        assertEquals(r.getState().getPidLong().longValue(), i.initPid());
    }

    @Test
    void commandLinePropertyOverridesTheImagesCommand() {
        LocalImage img = image(ContainerFormat.DOCKER);
        var props = new java.util.HashMap<>(img.info().properties());
        props.put("os_command_line", "sh -c 'echo \"from property\"; exec sleep 1000000'");
        var info = new berth.driver.api.ImageInfo(img.info().id(), img.info().name(), img.info().source(),
                img.info().containerFormat(), img.info().diskFormat(), img.info().size(), img.info().checksum(),
                img.info().hashAlgo(), img.info().hashValue(), img.info().status(), img.info().tags(), props,
                img.info().created());
        String uuid = newUuid();
        spawn(uuid, flavor(), new LocalImage(info, img.file(), img.sha256()), List.of());
        await(uuid, x -> driver.consoleOutput(uuid, 10).contains("from property"), "property command ran");
    }

    @Test
    void tooLittleMemoryIsAClearErrorAndLeavesNothing() {
        String uuid = newUuid();
        BerthException e = assertThrows(BerthException.class,
                () -> spawn(uuid, new Flavor("c1.tiny", 4, 1, 16), image(ContainerFormat.DOCKER), List.of()));
        assertTrue(e.getMessage().toLowerCase().contains("memory"), e.getMessage());
        assertNoContainer(uuid);
    }

    @Test
    void failureBetweenCreateAndStartRemovesTheContainer() {
        String uuid = newUuid();
        driver.afterCreate = id -> {
            throw new berth.driver.api.EngineException("injected failure after create of " + id);
        };
        try {
            BerthException e = assertThrows(BerthException.class,
                    () -> spawn(uuid, flavor(), image(ContainerFormat.DOCKER), List.of()));
            assertTrue(e.getMessage().startsWith("injected failure"), e.getMessage());
        } finally {
            driver.afterCreate = id -> { };
        }
        assertNoContainer(uuid);
    }

    @Test
    void missingCommandIsACrashOfTheInstance() {
        // Docker's init starts first and then execs the command, so a missing command is not a start failure:
        // the instance crashes with the shell's "not found" code
        String uuid = newUuid();
        spawn(uuid, flavor(), image(ContainerFormat.DOCKER), List.of("/no/such/command"));
        assertEquals(127, awaitState(uuid, PowerState.CRASHED).exitCode());
    }

    @Test
    void stateFollowsEventsWithoutInspecting() {
        String uuid = newUuid();
        spawn(uuid, flavor(), image(ContainerFormat.DOCKER), List.of("sh", "-c", "sleep 1; exit 3"));
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < end && driver.list().stream()
                .noneMatch(i -> i.uuid().equals(uuid) && i.powerState() == PowerState.CRASHED)) {
            sleep(50);
        }
        assertTrue(driver.list().stream().anyMatch(i -> i.uuid().equals(uuid) && i.exitCode() == 3
                && i.powerState() == PowerState.CRASHED), "list() learnt of the exit from the event stream");
    }

    @Test
    void aStopBerthDidNotAskForIsACrash() {
        String uuid = newUuid();
        DriverInstance i = spawnDefault(uuid);
        client.docker().stopContainerCmd(i.engineId()).withTimeout(5).exec();
        assertEquals(PowerState.CRASHED, awaitState(uuid, PowerState.CRASHED).powerState());
        driver.powerOn(uuid);
        driver.powerOff(uuid, Duration.ofSeconds(5));
        assertEquals(PowerState.SHUTDOWN, driver.info(uuid).powerState());
    }

    @Test
    void suspendSurvivesANewDriverInstance() {
        String uuid = newUuid();
        spawnDefault(uuid);
        driver.suspend(uuid);
        try (DockerComputeDriver again = new DockerComputeDriver(engine,
                new DockerComputeDriver.Options(driver.scope(), store.root().getParent(), false))) {
            assertEquals(PowerState.SUSPENDED, again.info(uuid).powerState());
            assertEquals("freezer", again.hostResources().extra().get("suspend.mode"));
        }
        driver.resume(uuid);
    }

    @Test
    void snapshotRemovesItsTemporaryTagOnClose() throws IOException {
        String uuid = newUuid();
        spawnDefault(uuid);
        try (SnapshotStream s = driver.snapshot(uuid)) {
            assertTrue(snapshotTags() > 0, "the commit is tagged while it is read");
            s.data().readNBytes(1024);
        }
        assertEquals(0, snapshotTags(), "temporary tag removed");
    }

    @Test
    void corruptRootfsTarballLeavesNoTag() throws IOException {
        LocalImage good = image(ContainerFormat.BARE);
        byte[] bytes = Files.readAllBytes(good.file());
        for (int i = 600; i < bytes.length; i += 997) {
            bytes[i] ^= 0x5a; // headers and data garbled past the first entry
        }
        LocalImage bad = copyAs(good, bytes);
        String uuid = newUuid();
        assertThrows(BerthException.class, () -> spawn(uuid, flavor(), bad, List.of()));
        assertNoContainer(uuid);
        assertEquals(0, tagsOf(bad), "no tag from a failed import");
    }

    @Test
    void dockerArchiveWithAWrongLayerLeavesNoTag() throws IOException {
        LocalImage good = image(ContainerFormat.DOCKER);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (var in = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(
                Files.newInputStream(good.file()));
                var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(out)) {
            tar.setLongFileMode(org.apache.commons.compress.archivers.tar.TarArchiveOutputStream.LONGFILE_POSIX);
            for (var e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                byte[] data = e.isFile() ? in.readAllBytes() : new byte[0];
                if (e.getName().endsWith(".json") && !e.getName().contains("/") && !e.getName().equals("manifest.json")) {
                    // the config names a layer digest the archive's layer does not have; an unknown digest makes
                    // dockerd read and check the layer (a known one it would skip)
                    String config = new String(data, java.nio.charset.StandardCharsets.UTF_8);
                    data = config.replaceAll("sha256:[0-9a-f]{64}", "sha256:" + "0".repeat(64))
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    e.setSize(data.length);
                }
                tar.putArchiveEntry(e);
                tar.write(data);
                tar.closeArchiveEntry();
            }
        }
        LocalImage bad = copyAs(good, out.toByteArray());
        String uuid = newUuid();
        BerthException e = assertThrows(BerthException.class, () -> spawn(uuid, flavor(), bad, List.of()));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertNoContainer(uuid);
        assertEquals(0, tagsOf(bad), "no tag from a failed load");
    }

    private LocalImage copyAs(LocalImage good, byte[] bytes) throws IOException {
        Path file = Files.createTempFile("berth-bad", ".tar");
        file.toFile().deleteOnExit();
        Files.write(file, bytes);
        var gi = good.info();
        var info = new berth.driver.api.ImageInfo(java.util.UUID.randomUUID().toString(), "bad", gi.source(),
                gi.containerFormat(), gi.diskFormat(), bytes.length, null, null, null, "active", List.of(),
                gi.properties(), java.time.Instant.now());
        return new LocalImage(info, file, sha256Hex(bytes));
    }

    private static String sha256Hex(byte[] b) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private long tagsOf(LocalImage image) {
        return client.docker().listImagesCmd().exec().stream()
                .flatMap(i -> i.getRepoTags() == null ? java.util.stream.Stream.empty() : Arrays.stream(i.getRepoTags()))
                .filter(t -> t.startsWith("berth/" + image.info().id())).count();
    }

    private long snapshotTags() {
        return client.docker().listImagesCmd().exec().stream()
                .flatMap(i -> i.getRepoTags() == null ? java.util.stream.Stream.empty() : Arrays.stream(i.getRepoTags()))
                .filter(t -> t.startsWith("berth/snapshot-")).count();
    }

    private void assertNoContainer(String uuid) {
        assertFalse(driver.list().stream().anyMatch(i -> i.uuid().equals(uuid)));
        assertThrows(NotFoundException.class,
                () -> client.docker().inspectContainerCmd(driver.containerName(uuid)).exec());
    }
}
