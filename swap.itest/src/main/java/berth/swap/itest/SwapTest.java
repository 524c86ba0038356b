package berth.swap.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.driver.api.BackendStatus;
import berth.driver.api.BackendUnavailableException;
import berth.driver.api.BootRequest;
import berth.driver.api.ComputeService;
import berth.driver.api.ExecResult;
import berth.driver.api.Instance;
import berth.driver.api.PowerState;
import berth.driver.api.ProgressListener;
import berth.driver.api.VmState;
import berth.driver.api.spi.ComputeDriver;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.jar.Attributes;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.Version;

/**
 * Hot swap and hot deployment with the real bundles and engines (issue 7). The tests run in order and share
 * their instances: one Docker and one LXC instance live through a bundle stop/start, the deployment of a new
 * driver.docker build and two broken builds. Switch times are printed (and written to {@code swap.times.file}),
 * never asserted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SwapTest {

    private static final String DOCKER_BSN = "berth.driver.docker";
    private static final Duration DEADLINE = Duration.ofSeconds(90);

    private final BundleContext ctx = FrameworkUtil.getBundle(SwapTest.class).getBundleContext();
    private final Map<String, String> times = new LinkedHashMap<>();
    private final List<String> created = new ArrayList<>();
    private ComputeService compute;
    private Path deployDir;
    private Path lxcpath;
    private String scope;
    private Instance dockerVm;
    private Instance dockerOff;
    private Instance lxcVm;
    private PrivateDockerd dockerd;

    @BeforeAll
    void setUp() {
        Engines.requireEngines();
        String host = ctx.getProperty("berth.docker.host");
        assertTrue(host != null && host.startsWith("unix:///tmp/"), "the run names a private dockerd: " + host);
        dockerd = new PrivateDockerd(Path.of(host.substring("unix://".length())).getParent());
        try {
            dockerd.destroy(); // what an interrupted earlier run left
            dockerd.start();
            assertTrue(dockerd.awaitAnswer(60), "the private dockerd answers; see " + dockerd.dir() + "/dockerd.log");
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("cannot start the private dockerd: " + e, e);
        }
        Engines.dockerHost = host;
        Path state = Path.of(ctx.getProperty("berth.state.dir"));
        scope = ctx.getProperty("berth.scope");
        deployDir = state.resolve("deploy");
        lxcpath = state.resolve("lxc");
        removeLeftoverContainers();
        ServiceReference<ComputeService> ref = await("the compute service", () -> ctx.getServiceReference(ComputeService.class));
        compute = ctx.getService(ref);
        awaitBackend("docker", true);
        awaitBackend("lxc", true);
        await("the local image store with its seed images", () -> {
            try {
                return compute.backends().isEmpty() ? null
                        : ctx.getServiceReferences(berth.driver.api.spi.ImageSource.class, "(berth.image.source=local)")
                                .stream().findFirst().orElse(null);
            } catch (org.osgi.framework.InvalidSyntaxException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private void removeLeftoverContainers() {
        Engines.Result ids = Engines.docker("ps", "-aq", "--filter", "label=berth.scope=" + scope);
        if (ids.code() == 0 && !ids.out().isBlank()) {
            List<String> argv = new ArrayList<>(List.of("rm", "-f"));
            argv.addAll(List.of(ids.out().split("\\s+")));
            Engines.docker(argv.toArray(String[]::new));
        }
    }

    @AfterAll
    void tearDown() throws IOException, InterruptedException {
        try {
            cleanUp();
        } finally {
            if (dockerd != null) {
                dockerd.destroy();
            }
        }
    }

    private void cleanUp() throws IOException, InterruptedException {
        if (dockerd != null && compute != null && !dockerd.awaitAnswer(1)) {
            dockerd.start(); // deletes of Docker instances need it, whatever a failed test left
            dockerd.awaitAnswer(60);
        }
        if (compute != null) {
            try {
                awaitBackend("docker", true);
            } catch (AssertionError e) {
                System.out.println("swap-itest: cleanup without the docker backend: " + e.getMessage());
            }
        }
        if (compute != null) {
            for (String uuid : created) {
                try {
                    compute.delete(uuid, true);
                } catch (RuntimeException e) {
                    System.out.println("swap-itest: cleanup of " + uuid + ": " + e.getMessage());
                }
            }
        }
        String bridge = ctx.getProperty("berth.network.default.bridge");
        if (bridge != null && Engines.run(10, "ip", "link", "show", bridge).code() == 0) {
            Engines.run(10, "ip", "link", "del", bridge);
        }
        StringBuilder sb = new StringBuilder();
        times.forEach((k, v) -> sb.append(k).append(": ").append(v).append('\n'));
        System.out.println("=== swap times ===\n" + sb + "==================");
        String file = ctx.getProperty("swap.times.file");
        if (file != null && !times.isEmpty()) {
            Files.writeString(Path.of(file), sb.toString());
        }
    }

    // ---------------------------------------------------------------- (a) bundle stop / start

    @Test
    @Order(1)
    void stoppingTheDockerBundleSendsBootsToLxcAndStartingItBringsDockerInstancesBack() throws Exception {
        dockerVm = boot("swap-docker", "docker");
        dockerOff = boot("swap-docker-off", "docker");
        dockerOff = compute.stop(dockerOff.uuid(), Duration.ofSeconds(2));
        assertEquals(PowerState.SHUTDOWN, dockerOff.powerState());
        lxcVm = boot("swap-lxc", "lxc");
        String container = dockerName(dockerVm);
        String before = Engines.dockerState(container);
        assertTrue(before.startsWith("true "), "docker container runs: " + before);
        String lxcBefore = Engines.lxcState(lxcpath.toString(), "berth-" + lxcVm.uuid());
        assertTrue(lxcBefore.contains("RUNNING"), lxcBefore);

        Bundle docker = dockerBundle();
        long t0 = System.nanoTime();
        docker.stop();
        long stopped = System.nanoTime();
        await("docker absent in nova:backends", () -> status("docker").filter(b -> !b.present()).orElse(null));
        long routed = System.nanoTime();
        Instance next = boot("swap-next", null);
        long landed = System.nanoTime();
        assertEquals("lxc", next.backend(), "with the Docker bundle stopped a boot goes to LXC");
        times.put("docker bundle stop() returned", ms(t0, stopped));
        times.put("bundle stop -> boots routed to lxc (nova:backends)", ms(t0, routed));
        times.put("bundle stop -> next boot landed on lxc (incl. the boot)", ms(t0, landed));

        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> compute.exec(dockerVm.uuid(), List.of("true"), Map.of(), Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("backend docker is unavailable"), e.getMessage());
        e = assertThrows(BackendUnavailableException.class,
                () -> compute.stop(dockerVm.uuid(), Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains("backend docker is unavailable"), e.getMessage());
        assertEquals(before, Engines.dockerState(container), "the container runs on, untouched");
        assertTrue(compute.list().stream().anyMatch(i -> i.uuid().equals(dockerVm.uuid())), "record kept");
        assertEquals(lxcBefore, Engines.lxcState(lxcpath.toString(), "berth-" + lxcVm.uuid()));

        long t1 = System.nanoTime();
        docker.start();
        long started = System.nanoTime();
        ExecResult r = await("docker instance usable again", () -> {
            try {
                return compute.exec(dockerVm.uuid(), List.of("echo", "back"), Map.of(), Duration.ofSeconds(10));
            } catch (BackendUnavailableException gone) {
                return null;
            }
        });
        long usable = System.nanoTime();
        times.put("docker bundle start() returned", ms(t1, started));
        times.put("bundle start -> docker instance usable (exec answered)", ms(t1, usable));
        assertEquals("back", r.stdout().trim());
        assertEquals(before, Engines.dockerState(container), "not restarted by the swap");
        assertEquals(PowerState.RUNNING, awaitPower(dockerVm.uuid(), PowerState.RUNNING).powerState());
        assertEquals(PowerState.SHUTDOWN, awaitPower(dockerOff.uuid(), PowerState.SHUTDOWN).powerState());
        assertEquals(VmState.ACTIVE, compute.show(dockerVm.uuid()).vmState());
        assertEquals(Optional.of("docker"), defaultBackendIsDocker());
    }

    // ---------------------------------------------------------------- (b) a new build through deploy/

    @Test
    @Order(2)
    void aNewDockerBuildDroppedIntoDeployTakesOverTheRunningContainers() throws Exception {
        requireInstances();
        Bundle old = dockerBundle();
        Version v = old.getVersion();
        Version next = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "swaptest");
        String container = dockerName(dockerVm);
        String before = Engines.dockerState(container);
        assertTrue(before.startsWith("true "), before);

        // written beside the folder first, so the time counts from the jar's arrival, not from its making
        Path made = Builds.rebuild(old, deployDir.resolveSibling("deploy-staging"), "berth.driver.docker-next.jar",
                a -> a.putValue("Bundle-Version", next.toString()), "swap test build " + next + "\n");
        Files.createDirectories(deployDir);
        long t0 = System.nanoTime();
        Files.move(made, deployDir.resolve(made.getFileName()), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        BackendStatus b = await("nova:backends shows docker " + next,
                () -> status("docker").filter(s -> s.present() && next.toString().equals(s.bundleVersion())
                        && s.instances() >= 2).orElse(null));
        long served = System.nanoTime();
        await("the old build uninstalled", () -> old.getState() == Bundle.UNINSTALLED ? Boolean.TRUE : null);
        long gone = System.nanoTime();
        times.put("new docker build dropped -> nova:backends shows it", ms(t0, served));
        times.put("new docker build dropped -> old build uninstalled", ms(t0, gone));
        // the deployer records the outcome after the old build's refresh, a moment after nova:backends changed
        String line = awaitDeployment("berth.driver.docker-next.jar");
        String deployments = shell("berth:deployments");
        System.out.println(deployments);
        assertTrue(line.contains("SWITCHED"), deployments);
        times.put("deployer switch, docker (start new -> old uninstalled, as berth.deployments reports)",
                column(deployments, line, "Switch_ms") + " ms");

        Bundle now = dockerBundle();
        assertEquals(next, now.getVersion());
        assertEquals(Bundle.ACTIVE, now.getState());
        ServiceReference<?>[] drivers = ctx.getAllServiceReferences(ComputeDriver.class.getName(),
                "(berth.backend=docker)");
        assertEquals(1, drivers == null ? 0 : drivers.length, "one docker driver after the switch");
        assertEquals(now, drivers[0].getBundle(), "served by the new build");
        assertEquals("present", b.present() ? "present" : "absent");

        assertEquals(before, Engines.dockerState(container), "the container kept running through the switch");
        ExecResult r = compute.exec(dockerVm.uuid(), List.of("echo", "new-build"), Map.of(), Duration.ofSeconds(10));
        assertEquals("new-build", r.stdout().trim());
        // managed by the new build: a stop and start go through it and reach the engine
        Instance s = compute.stop(dockerVm.uuid(), Duration.ofSeconds(2));
        assertEquals(PowerState.SHUTDOWN, s.powerState());
        assertTrue(Engines.dockerState(container).startsWith("false "), Engines.dockerState(container));
        dockerVm = compute.start(dockerVm.uuid());
        assertEquals(PowerState.RUNNING, dockerVm.powerState());
        assertTrue(Engines.dockerState(container).startsWith("true "), Engines.dockerState(container));
        assertNotEquals(before, Engines.dockerState(container), "restarted by the new build on request");
        assertEquals(PowerState.SHUTDOWN, compute.show(dockerOff.uuid()).powerState());
    }

    // ---------------------------------------------------------------- (c) broken builds

    @Test
    @Order(3)
    void aBuildThatDoesNotResolveIsRemovedAndTheRunningBuildKeepsServing() throws Exception {
        requireInstances();
        Bundle serving = dockerBundle();
        Version v = serving.getVersion();
        String broken = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "unresolvable").toString();
        Builds.rebuild(serving, deployDir, "berth.driver.docker-unresolvable.jar", a -> {
            a.putValue("Bundle-Version", broken);
            a.putValue("Import-Package", a.getValue("Import-Package")
                    + ",berth.no.such.pkg;version=\"[9.0,10)\"");
        }, null);
        String line = awaitDeployment("berth.driver.docker-unresolvable.jar");
        System.out.println(line);
        assertTrue(line.contains("FAILED"), line);
        assertTrue(line.contains("berth.no.such.pkg"), "says why: " + line);
        assertTrue(line.contains("keeps serving"), line);
        assertServingUnchanged(serving);
    }

    @Test
    @Order(4)
    void aBuildWhoseDriverNeverRegistersIsRemovedAfterTheDeadline() throws Exception {
        requireInstances();
        Bundle serving = dockerBundle();
        Version v = serving.getVersion();
        String silent = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "nocomponents").toString();
        long t0 = System.nanoTime();
        Builds.rebuild(serving, deployDir, "berth.driver.docker-silent.jar", a -> {
            a.putValue("Bundle-Version", silent);
            a.remove(new Attributes.Name("Service-Component"));
        }, null);
        String line = awaitDeployment("berth.driver.docker-silent.jar");
        times.put("silent build dropped -> refused (deadline berth.deploy.timeout.s="
                + ctx.getProperty("berth.deploy.timeout.s") + ")", ms(t0, System.nanoTime()));
        System.out.println(line);
        assertTrue(line.contains("FAILED"), line);
        assertTrue(line.contains("registered no ComputeDriver (berth.backend=docker)"), "says why: " + line);
        assertServingUnchanged(serving);
        assertTrue(shell("berth:deployments").contains("berth.driver.docker-unresolvable.jar"),
                "earlier refusals stay visible");
    }

    // ---------------------------------------------------------------- same version, other content; LXC; network

    @Test
    @Order(5)
    void aRebuildOfTheSameVersionSwitchesToo() throws Exception {
        requireInstances();
        Bundle serving = dockerBundle();
        String container = dockerName(dockerVm);
        String before = Engines.dockerState(container);
        Path made = Builds.rebuild(serving, deployDir.resolveSibling("deploy-staging"),
                "berth.driver.docker-rebuild.jar", a -> a.putValue("Berth-Rebuild", "same version, other content"),
                "rebuild of " + serving.getVersion() + "\n");
        Files.move(made, deployDir.resolve(made.getFileName()), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        String line = awaitDeployment("berth.driver.docker-rebuild.jar");
        System.out.println(line);
        assertTrue(line.contains("SWITCHED"), "bsnversion=multiple lets both builds of " + serving.getVersion()
                + " sit side by side: " + line);
        await("the old build uninstalled", () -> serving.getState() == Bundle.UNINSTALLED ? Boolean.TRUE : null);
        Bundle now = dockerBundle();
        assertEquals(serving.getVersion(), now.getVersion());
        assertEquals("same version, other content", now.getHeaders().get("Berth-Rebuild"));
        assertEquals(before, Engines.dockerState(container), "the container kept running");
        awaitBackend("docker", true);
        assertEquals("ok", compute.exec(dockerVm.uuid(), List.of("echo", "ok"), Map.of(), Duration.ofSeconds(10))
                .stdout().trim());
    }

    @Test
    @Order(6)
    void aNewLxcBuildTakesOverTheRunningLxcContainer() throws Exception {
        requireInstances();
        Bundle old = bundle("berth.driver.lxc");
        Version v = old.getVersion();
        Version next = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "swaptest");
        String name = "berth-" + lxcVm.uuid();
        String before = Engines.lxcState(lxcpath.toString(), name);
        assertTrue(before.contains("RUNNING"), before);
        Path made = Builds.rebuild(old, deployDir.resolveSibling("deploy-staging"), "berth.driver.lxc-next.jar",
                a -> a.putValue("Bundle-Version", next.toString()), "swap test build " + next + "\n");
        long t0 = System.nanoTime();
        Files.move(made, deployDir.resolve(made.getFileName()), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        await("nova:backends shows lxc " + next, () -> status("lxc")
                .filter(s -> s.present() && next.toString().equals(s.bundleVersion())).orElse(null));
        await("the old lxc build uninstalled", () -> old.getState() == Bundle.UNINSTALLED ? Boolean.TRUE : null);
        times.put("new lxc build dropped -> nova:backends shows it, old uninstalled", ms(t0, System.nanoTime()));
        String line = awaitDeployment("berth.driver.lxc-next.jar");
        System.out.println(line);
        assertTrue(line.contains("SWITCHED"), line);
        assertEquals(before, Engines.lxcState(lxcpath.toString(), name), "the LXC container kept running");
        assertEquals("lxc-new", compute.exec(lxcVm.uuid(), List.of("echo", "lxc-new"), Map.of(),
                Duration.ofSeconds(10)).stdout().trim());
        Instance s = compute.stop(lxcVm.uuid(), Duration.ofSeconds(2));
        assertEquals(PowerState.SHUTDOWN, s.powerState());
        assertTrue(Engines.lxcState(lxcpath.toString(), name).contains("STOPPED"),
                Engines.lxcState(lxcpath.toString(), name));
        lxcVm = compute.start(lxcVm.uuid());
        assertEquals(PowerState.RUNNING, lxcVm.powerState());
    }

    @Test
    @Order(7)
    void aNewNetworkBuildIsHandedOverKeepingAddressesAndFirewallRules() throws Exception {
        requireInstances();
        String bridge = ctx.getProperty("berth.network.default.bridge");
        Instance netVm = bootOn("swap-net", "docker", List.of("default"));
        assertEquals(1, netVm.vifs().size(), "one VIF: " + netVm.vifs());
        String firstAddress = netVm.vifs().get(0).address();
        boolean firewall = Engines.run(20, "iptables", "-w", "5", "-n", "-L", "DOCKER-USER").code() == 0;
        if (firewall) {
            assertTrue(ruleFor(bridge), "DOCKER-USER rule for " + bridge + " before the switch");
        }
        Bundle old = bundle("berth.network.bridge");
        Version v = old.getVersion();
        Version next = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "swaptest");
        Path made = Builds.rebuild(old, deployDir.resolveSibling("deploy-staging"), "berth.network.bridge-next.jar",
                a -> a.putValue("Bundle-Version", next.toString()), "swap test build " + next + "\n");
        long t0 = System.nanoTime();
        Files.move(made, deployDir.resolve(made.getFileName()), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        String line = awaitDeployment("berth.network.bridge-next.jar");
        times.put("new network build dropped -> handed over", ms(t0, System.nanoTime()));
        System.out.println(line);
        assertTrue(line.contains("SWITCHED") && line.contains("handed over"), line);
        assertEquals(next, bundle("berth.network.bridge").getVersion());
        if (firewall) {
            assertTrue(ruleFor(bridge), "DOCKER-USER rule for " + bridge + " after the switch");
        }
        Instance second = bootOn("swap-net2", "docker", List.of("default"));
        assertEquals(1, second.vifs().size());
        assertNotEquals(firstAddress, second.vifs().get(0).address(), "the new build knows the old allocations");
        assertEquals(firstAddress, compute.show(netVm.uuid()).vifs().get(0).address());
        assertTrue(Engines.dockerState(dockerName(netVm)).startsWith("true "));
    }

    @Test
    @Order(8)
    void brokenNetworkBuildsLeaveOrHandBackToThePreviousBuild() throws Exception {
        requireInstances();
        Bundle serving = bundle("berth.network.bridge");
        Version v = serving.getVersion();
        String broken = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "unresolvable").toString();
        Builds.rebuild(serving, deployDir, "berth.network.bridge-unresolvable.jar", a -> {
            a.putValue("Bundle-Version", broken);
            a.putValue("Import-Package", a.getValue("Import-Package") + ",berth.no.such.pkg;version=\"[9.0,10)\"");
        }, null);
        String line = awaitDeployment("berth.network.bridge-unresolvable.jar");
        System.out.println(line);
        assertTrue(line.contains("FAILED") && line.contains("berth.no.such.pkg"), line);
        assertTrue(line.contains("keeps serving") && !line.contains("handed back"),
                "a build that cannot resolve never interrupts the running one: " + line);
        assertEquals(serving, bundle("berth.network.bridge"));

        String silent = new Version(v.getMajor(), v.getMinor(), v.getMicro() + 1, "nocomponents").toString();
        Builds.rebuild(serving, deployDir, "berth.network.bridge-silent.jar", a -> {
            a.putValue("Bundle-Version", silent);
            a.remove(new Attributes.Name("Service-Component"));
        }, null);
        line = awaitDeployment("berth.network.bridge-silent.jar");
        System.out.println(line);
        assertTrue(line.contains("FAILED") && line.contains("registered no NetworkProvider"), line);
        assertTrue(line.contains("handed back to the previous build"), line);
        assertEquals(serving, bundle("berth.network.bridge"));
        assertEquals(Bundle.ACTIVE, serving.getState(), "the previous network build runs again");
        Instance third = bootOn("swap-net3", "lxc", List.of("default"));
        assertEquals(1, third.vifs().size(), "allocations work through the restored build");
    }

    @Test
    @Order(9)
    void aNewBundleIsInstalledAndRemovingItsJarUninstallsIt() throws Exception {
        java.util.jar.Manifest mf = new java.util.jar.Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", "berth.swap.probe");
        a.putValue("Bundle-Version", "1.0.0");
        Path staging = Files.createDirectories(deployDir.resolveSibling("deploy-staging"));
        Path jar = staging.resolve("berth.swap.probe.jar");
        try (java.util.jar.JarOutputStream out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar), mf)) {
            out.putNextEntry(new java.util.jar.JarEntry("probe.txt"));
            out.write("probe\n".getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
        Path dropped = deployDir.resolve("berth.swap.probe.jar");
        Files.move(jar, dropped, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        String line = awaitDeployment("berth.swap.probe.jar");
        assertTrue(line.contains("INSTALLED"), line);
        Bundle probe = bundle("berth.swap.probe");
        assertEquals(Bundle.ACTIVE, probe.getState());
        Files.delete(dropped);
        await("the probe bundle uninstalled", () -> probe.getState() == Bundle.UNINSTALLED ? Boolean.TRUE : null);
        line = await("berth:deployments reports the removal", () -> {
            String l = line(shell("berth:deployments"), "berth.swap.probe.jar");
            return l.contains("REMOVED") ? l : null;
        });
        System.out.println(line);
    }

    // ---------------------------------------------------------------- dockerd itself stops and starts

    @Test
    @Order(10)
    void stoppingDockerdSendsBootsToLxcAndItsContainersLiveOnUntilItIsBack() throws Exception {
        requireInstances();
        String container = dockerName(dockerVm);
        String before = Engines.dockerState(container);
        assertTrue(before.startsWith("true "), before);
        long pid = Long.parseLong(before.split(" ")[1]);

        long t0 = System.nanoTime();
        dockerd.stop();
        long exited = System.nanoTime();
        awaitBackend("docker", false);
        long routed = System.nanoTime();
        Instance next = boot("swap-no-dockerd", null);
        long landed = System.nanoTime();
        assertEquals("lxc", next.backend(), "with dockerd down a boot goes to LXC");
        times.put("dockerd SIGTERM -> dockerd exited (live-restore)", ms(t0, exited));
        times.put("dockerd SIGTERM -> boots routed to lxc (nova:backends)", ms(t0, routed));
        times.put("dockerd SIGTERM -> next boot landed on lxc (incl. the boot)", ms(t0, landed));
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> compute.exec(dockerVm.uuid(), List.of("true"), Map.of(), Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("backend docker is unavailable"), e.getMessage());
        assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
                "the container's init (pid " + pid + ") lives on while dockerd is down");

        long t1 = System.nanoTime();
        dockerd.start();
        assertTrue(dockerd.awaitAnswer(60), "the private dockerd answers again");
        long answers = System.nanoTime();
        ExecResult r = await("docker instance usable after dockerd came back", () -> {
            try {
                return compute.exec(dockerVm.uuid(), List.of("echo", "back"), Map.of(), Duration.ofSeconds(10));
            } catch (BackendUnavailableException gone) {
                return null;
            }
        });
        long usable = System.nanoTime();
        times.put("dockerd start -> it answers", ms(t1, answers));
        times.put("dockerd start -> docker instance usable (exec answered; monitor ping interval 2 s)",
                ms(t1, usable));
        assertEquals("back", r.stdout().trim());
        assertEquals(before, Engines.dockerState(container), "the same container, not restarted");
        assertEquals(PowerState.RUNNING, awaitPower(dockerVm.uuid(), PowerState.RUNNING).powerState());
        assertEquals(PowerState.SHUTDOWN, awaitPower(dockerOff.uuid(), PowerState.SHUTDOWN).powerState());
    }

    private static boolean ruleFor(String bridge) {
        Engines.Result r = Engines.run(20, "iptables", "-w", "5", "-S", "DOCKER-USER");
        return r.code() == 0 && r.out().contains("-i " + bridge + " -o " + bridge);
    }

    private void assertServingUnchanged(Bundle serving) {
        assertEquals(Bundle.ACTIVE, serving.getState(), "the running build keeps running");
        assertEquals(serving, dockerBundle(), "and is the only docker build installed");
        BackendStatus s = status("docker").orElseThrow();
        assertTrue(s.present());
        assertEquals(serving.getVersion().toString(), s.bundleVersion());
        ExecResult r = compute.exec(dockerVm.uuid(), List.of("echo", "still"), Map.of(), Duration.ofSeconds(10));
        assertEquals("still", r.stdout().trim());
        assertTrue(Engines.dockerState(dockerName(dockerVm)).startsWith("true "));
    }

    // ---------------------------------------------------------------- helpers

    private void requireInstances() {
        if (dockerVm == null || lxcVm == null) {
            fail("the instances of the first test are missing");
        }
    }

    private Instance boot(String name, String backend) {
        return bootOn(name, backend, List.of());
    }

    private Instance bootOn(String name, String backend, List<String> networks) {
        Instance i = compute.boot(new BootRequest(name, "busybox", "c1.nano", backend, networks, List.of(),
                Map.of(), List.of()), ProgressListener.NONE);
        created.add(i.uuid());
        assertEquals(VmState.ACTIVE, i.vmState(), name + ": " + i.fault());
        return i;
    }

    private String dockerName(Instance i) {
        return "berth-" + scope + "-" + i.uuid();
    }

    private Bundle dockerBundle() {
        return bundle(DOCKER_BSN);
    }

    private Bundle bundle(String bsn) {
        List<Bundle> found = new ArrayList<>();
        for (Bundle b : ctx.getBundles()) {
            if (bsn.equals(b.getSymbolicName()) && b.getState() != Bundle.UNINSTALLED) {
                found.add(b);
            }
        }
        assertEquals(1, found.size(), bsn + " bundles installed: " + found);
        return found.get(0);
    }

    private Optional<BackendStatus> status(String backend) {
        return compute.backends().stream().filter(b -> b.name().equals(backend)).findFirst();
    }

    private Optional<String> defaultBackendIsDocker() {
        return compute.backends().stream().filter(BackendStatus::preferred).map(BackendStatus::name).findFirst();
    }

    private void awaitBackend(String name, boolean present) {
        await("backend " + name + (present ? " present" : " absent"),
                () -> status(name).filter(b -> b.present() == present).orElse(null));
    }

    private Instance awaitPower(String uuid, PowerState p) {
        return await(uuid + " " + p, () -> {
            Instance i = compute.show(uuid);
            return i.powerState() == p ? i : null;
        });
    }

    private String awaitDeployment(String file) {
        return await("berth:deployments reports " + file, () -> {
            String out = shell("berth:deployments");
            String l = line(out, file);
            return l.isEmpty() ? null : l;
        });
    }

    private String shell(String command) {
        ServiceReference<CommandProcessor> ref = ctx.getServiceReference(CommandProcessor.class);
        assertTrue(ref != null, "the Gogo command processor");
        CommandProcessor cp = ctx.getService(ref);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        try (CommandSession s = cp.createSession(new ByteArrayInputStream(new byte[0]), ps, ps)) {
            Object r = s.execute(command);
            return String.valueOf(r) + out.toString(StandardCharsets.UTF_8);
        } catch (Exception e) {
            throw new AssertionError(command + ": " + e, e);
        } finally {
            ctx.ungetService(ref);
        }
    }

    private static String line(String table, String file) {
        for (String l : table.split("\n")) {
            if (l.startsWith(file + " ")) {
                return l;
            }
        }
        return "";
    }

    /** The value in {@code row} under {@code heading}, from the aligned table. */
    private static String column(String table, String row, String heading) {
        for (String l : table.split("\n")) {
            int at = l.indexOf(heading);
            if (l.startsWith("File ") && at >= 0) {
                return row.length() > at ? row.substring(at).split("\\s+")[0] : "?";
            }
        }
        return "?";
    }

    private static String ms(long from, long to) {
        return String.format(java.util.Locale.ROOT, "%.1f ms", (to - from) / 1e6);
    }

    private static <T> T await(String what, Supplier<T> probe) {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() - deadline < 0) {
            try {
                T v = probe.get();
                if (v != null) {
                    return v;
                }
            } catch (RuntimeException e) {
                last = e;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new AssertionError("gave up waiting (" + DEADLINE.toSeconds() + " s) for " + what
                + (last == null ? "" : "; last error: " + last), last);
    }
}
