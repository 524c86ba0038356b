package berth.runtime.internal.bench;

import berth.driver.api.BackendStatus;
import berth.driver.api.BackendUnavailableException;
import berth.driver.api.BerthException;
import berth.driver.api.BootRequest;
import berth.driver.api.ComputeService;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.Instance;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One benchmark run. For each backend: a warm-up instance caches the image (and holds the engine's copy of it
 * for the raw Docker path), then {@code count} instances go through boot, exec, pause, unpause, stop, start,
 * reboot and delete, {@code parallel} at a time, each operation timed around the compute-service call; memory is
 * read with all of them running; then the engine's own path runs the same number of times. Everything named
 * {@code bench-*} is removed before the run (leftovers of an interrupted one) and after it, whatever happens.
 */
final class BenchRunner {

    static final String PREFIX = "bench-";
    private static final Duration EXEC_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration RUNNING_TIMEOUT = Duration.ofSeconds(60);
    private static final long TERMINATION_WAIT_SECONDS = 180;
    private static final Duration SETTLE = Duration.ofSeconds(3);

    private final Supplier<ComputeService> compute;
    private final Function<String, ComputeDriver> drivers;
    private final Path stateDir;
    private final String scope;
    private final String dockerHost;
    private final PrintStream err;
    private final MemoryProbe probe = new MemoryProbe();
    private final BenchData data = new BenchData();

    /** One measured instance; the fields are written by one worker at a time, phases apart. */
    private static final class Slot {
        final int n;
        final String name;
        volatile String uuid;
        volatile boolean alive;

        Slot(int n, String name) {
            this.n = n;
            this.name = name;
        }
    }

    @FunctionalInterface
    private interface Step {
        /** @return {@code null} when it worked, otherwise why not (the step did not throw but failed) */
        String run(Slot s) throws Exception;
    }

    BenchRunner(Supplier<ComputeService> compute, Function<String, ComputeDriver> drivers, Path stateDir,
            String scope, String dockerHost, PrintStream err) {
        this.compute = compute;
        this.drivers = drivers;
        this.stateDir = stateDir;
        this.scope = scope;
        this.dockerHost = dockerHost;
        this.err = err;
    }

    BenchReport run(BenchOptions o) throws InterruptedException, IOException {
        Instant started = Instant.now();
        awaitCompute(o);
        progress("bench: waiting for %s to be present", o.backends().isEmpty() ? "a backend"
                : "backend " + String.join(", ", o.backends()));
        List<String> backends = awaitBackends(o);
        Flavor flavor = cs().flavors().stream().filter(f -> f.name().equals(o.flavor())).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown flavor " + o.flavor() + " (see nova:flavors)"));
        Map<String, String> engines = new LinkedHashMap<>();
        for (BackendStatus b : cs().backends()) {
            if (backends.contains(b.name())) {
                engines.put(b.name(), b.engineVersion() + (b.bundleVersion() == null ? "" : ", bundle " + b.bundleVersion()));
            }
        }
        RawLxcPath rawLxc = new RawLxcPath(stateDir.resolve("bench").resolve("lxc"), flavor.memoryBytes());
        RawDockerPath rawDocker = dockerSocket().map(p -> new RawDockerPath(
                new DockerSocketClient(p, Duration.ofSeconds(60)), scope)).orElse(null);
        progress("bench: backends %s, %d instance(s) each, parallel %d, image %s, flavor %s, network %s",
                String.join(", ", backends), o.count(), o.parallel(), o.image(), o.flavor(),
                o.networks().isEmpty() ? "none" : String.join(",", o.networks()));
        AtomicInteger threads = new AtomicInteger();
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "berth-bench-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        ExecutorService pool = Executors.newFixedThreadPool(o.parallel(), tf);
        Map<String, String> rawSettings = new LinkedHashMap<>();
        boolean interrupted = false;
        try {
            removeLeftovers(rawDocker, rawLxc);
            for (String backend : backends) {
                runBackend(backend, o, pool, rawDocker, rawLxc, rawSettings);
            }
        } catch (InterruptedException e) {
            interrupted = true;
            progress("bench: interrupted; removing what it created");
        } finally {
            pool.shutdownNow();
            boolean wasInterrupted = Thread.interrupted() || interrupted;
            try {
                if (!pool.awaitTermination(TERMINATION_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    progress("bench: %d s passed and operations are still running; cleaning up anyway",
                            TERMINATION_WAIT_SECONDS);
                }
            } catch (InterruptedException again) {
                wasInterrupted = true;
            }
            removeLeftovers(rawDocker, rawLxc);
            if (wasInterrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (interrupted || Thread.currentThread().isInterrupted()) {
            throw new InterruptedException("nova:bench interrupted; every bench-* instance and container removed");
        }
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("started", started.toString());
        settings.put("duration", Duration.between(started, Instant.now()).toSeconds() + " s");
        settings.put("host", hostDescription());
        settings.put("scope", scope);
        engines.forEach((k, v) -> settings.put("engine " + k, v));
        settings.put("instances per backend", Integer.toString(o.count()));
        settings.put("parallel", Integer.toString(o.parallel()));
        settings.put("image", o.image());
        settings.put("flavor", flavor.name() + " (" + flavor.memoryMb() + " MB, " + flavor.vcpus() + " vCPU)");
        settings.put("network", o.networks().isEmpty() ? "none" : String.join(", ", o.networks()));
        settings.put("stop timeout", o.stopTimeout().toSeconds() + " s");
        settings.putAll(rawSettings);
        List<Path> files = ReportWriter.write(o.out(), data, settings);
        progress("bench: report in %s", o.out().resolve(ReportWriter.HTML));
        return new BenchReport(o.out(), files, data.summaries(), data.memory());
    }

    BenchData data() {
        return data;
    }

    // ---------------------------------------------------------------- one backend

    private void runBackend(String backend, BenchOptions o, ExecutorService pool,
            RawDockerPath rawDocker, RawLxcPath rawLxc, Map<String, String> rawSettings)
            throws InterruptedException {
        ComputeDriver driver = drivers.apply(backend);
        String warmName = PREFIX + backend + "-0";
        progress("%s: warm-up boot %s (caches the image)", backend, warmName);
        Instance warm = warmUp(backend, warmName, o);
        try {
            long availBefore = probe.memAvailable();
            long rssBefore = probe.jvmRss();
            List<Slot> slots = new ArrayList<>();
            for (int i = 1; i <= o.count(); i++) {
                slots.add(new Slot(i, PREFIX + backend + "-" + i));
            }
            phase(pool, backend, "berth", "boot", slots, true, true, s -> {
                long t0 = System.nanoTime();
                Instance in = cs().boot(request(s.name, backend, o), (what, done, total) -> { });
                data.ok(backend, "berth", "boot", s.n, ms(t0));
                s.uuid = in.uuid();
                s.alive = true;
                DriverInstance di = awaitRunning(driver, in.uuid());
                if (di == null) {
                    data.failed(backend, "berth", "to_running", s.n, "not RUNNING within " + RUNNING_TIMEOUT.toSeconds() + " s");
                } else {
                    data.ok(backend, "berth", "to_running", s.n, ms(t0));
                }
                return null;
            });
            phase(pool, backend, "berth", "exec", slots, false, false, s -> {
                ExecResult r = cs().exec(s.uuid, List.of("true"), Map.of(), EXEC_TIMEOUT);
                return r.exitCode() == 0 ? null : "exit code " + r.exitCode() + " " + r.stderr().strip();
            });
            phase(pool, backend, "berth", "pause", slots, false, false, s -> state(cs().pause(s.uuid)));
            phase(pool, backend, "berth", "unpause", slots, false, false, s -> state(cs().unpause(s.uuid)));
            phase(pool, backend, "berth", "stop", slots, false, false, s -> state(cs().stop(s.uuid, o.stopTimeout())));
            phase(pool, backend, "berth", "start", slots, false, false, s -> state(cs().start(s.uuid)));
            phase(pool, backend, "berth", "reboot", slots, false, false, s -> state(cs().reboot(s.uuid, RebootType.SOFT)));
            checkInterrupt();
            measureMemory(backend, driver, slots, availBefore, rssBefore);
            phase(pool, backend, "berth", "delete", slots, false, false, s -> {
                cs().delete(s.uuid, false);
                s.alive = false;
                return null;
            });
            if (o.raw()) {
                if ("docker".equals(backend) && rawDocker != null) {
                    rawDocker(pool, rawDocker, warm, o, rawSettings);
                } else if ("lxc".equals(backend)) {
                    rawLxc(pool, rawLxc, o, rawSettings);
                } else {
                    progress("%s: no raw engine path known for this backend", backend);
                }
            }
        } finally {
            deleteQuietly(warm.uuid());
        }
    }

    private Instance warmUp(String backend, String name, BenchOptions o)
            throws InterruptedException {
        long deadline = System.nanoTime() + o.waitFor().toNanos();
        while (true) {
            try {
                return cs().boot(request(name, backend, o), (what, done, total) -> { });
            } catch (NotFoundException | BackendUnavailableException e) {
                // the image source may still be coming up in a runtime that has just started, or the backend's
                // bundle be replaced by a newer build from deploy/
                deleteQuietly(name);
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    private static BootRequest request(String name, String backend, BenchOptions o) {
        return new BootRequest(name, o.image(), o.flavor(), backend, o.networks(), List.of(), Map.of(), List.of());
    }

    private static String state(Instance i) {
        return i.fault() != null && i.vmState().name().equals("ERROR") ? "ERROR: " + i.fault() : null;
    }

    private DriverInstance awaitRunning(ComputeDriver driver, String uuid) throws InterruptedException {
        if (driver == null) {
            return null;
        }
        long deadline = System.nanoTime() + RUNNING_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            DriverInstance di = driver.info(uuid);
            if (di.powerState() == PowerState.RUNNING && di.initPid() > 0
                    && Files.exists(Path.of("/proc", Long.toString(di.initPid())))) {
                return di;
            }
            Thread.sleep(2);
        }
        return null;
    }

    private void measureMemory(String backend, ComputeDriver driver, List<Slot> slots, long availBefore,
            long rssBefore) {
        long cgroup = 0;
        long supervisors = 0;
        int counted = 0;
        int supervised = 0;
        int running = 0;
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (Slot s : slots) {
            if (!s.alive || driver == null) {
                continue;
            }
            try {
                DriverInstance di = driver.info(s.uuid);
                if (di.powerState() != PowerState.RUNNING) {
                    continue;
                }
                running++;
                long b = probe.cgroupBytes(di.initPid());
                if (b >= 0) {
                    cgroup += b;
                    counted++;
                }
                long parent = probe.parent(di.initPid());
                long rss = parent > 1 && seen.add(parent) ? probe.pss(parent) : -1;
                if (rss >= 0) {
                    supervisors += rss;
                    supervised++;
                }
            } catch (RuntimeException e) {
                progress("%s: memory of %s not read: %s", backend, s.name, e.getMessage());
            }
        }
        long availAfter = probe.memAvailable();
        long rssAfter = probe.jvmRss();
        MemoryFigures m = new MemoryFigures(backend, running, counted == running && running > 0 ? cgroup : -1,
                supervised == running && running > 0 ? supervisors : -1, availBefore - availAfter,
                rssAfter - rssBefore);
        data.memory(m);
        progress("%s: memory with %d running, per instance: cgroup %s MiB, supervisor %s MiB, host %s MiB; "
                + "JVM RSS %+.1f MiB", backend, running, fmt(m.cgroupMbPerInstance()),
                fmt(m.supervisorMbPerInstance()), fmt(m.hostMbPerInstance()), m.jvmRssDeltaMb());
    }

    // ---------------------------------------------------------------- raw engine paths

    private void rawDocker(ExecutorService pool, RawDockerPath raw, Instance warm, BenchOptions o,
            Map<String, String> rawSettings) throws InterruptedException {
        try {
            raw.copySettingsOf(warm.uuid());
        } catch (IOException e) {
            progress("docker: raw path skipped: %s", e.getMessage());
            return;
        }
        rawSettings.put("raw docker create", raw.settings());
        progress("docker: raw Engine API path, same settings as Berth's container");
        List<Slot> slots = slots("raw-docker", o.count());
        int stopSeconds = (int) o.stopTimeout().toSeconds();
        Map<Integer, String> ids = new java.util.concurrent.ConcurrentHashMap<>();
        phase(pool, "docker", "raw", "boot", slots, true, true, s -> {
            long t0 = System.nanoTime();
            String id = raw.create(s.n);
            ids.put(s.n, id);
            s.alive = true;
            data.ok("docker", "raw", "create", s.n, ms(t0));
            long t1 = System.nanoTime();
            raw.start(id);
            data.ok("docker", "raw", "start", s.n, ms(t1));
            data.ok("docker", "raw", "boot", s.n, ms(t0));
            return null;
        });
        phase(pool, "docker", "raw", "stop", slots, false, false, s -> {
            raw.stop(ids.get(s.n), stopSeconds);
            return null;
        });
        phase(pool, "docker", "raw", "delete", slots, false, false, s -> {
            raw.delete(ids.get(s.n));
            s.alive = false;
            return null;
        });
    }

    private void rawLxc(ExecutorService pool, RawLxcPath raw, BenchOptions o, Map<String, String> rawSettings)
            throws InterruptedException {
        rawSettings.put("raw lxc", "lxc-create -t busybox / lxc-start -d / lxc-stop -k / lxc-destroy under "
                + raw.lxcpath());
        progress("lxc: raw path, lxc-create -t busybox / lxc-start -d / lxc-stop -k / lxc-destroy");
        List<Slot> slots = slots("raw-lxc", o.count());
        phase(pool, "lxc", "raw", "boot", slots, true, true, s -> {
            long t0 = System.nanoTime();
            raw.create(s.n);
            s.alive = true;
            data.ok("lxc", "raw", "create", s.n, ms(t0));
            long t1 = System.nanoTime();
            raw.start(s.n);
            data.ok("lxc", "raw", "start", s.n, ms(t1));
            data.ok("lxc", "raw", "boot", s.n, ms(t0));
            return null;
        });
        phase(pool, "lxc", "raw", "stop", slots, false, false, s -> {
            raw.stop(s.n);
            return null;
        });
        phase(pool, "lxc", "raw", "delete", slots, false, false, s -> {
            raw.destroy(s.n);
            s.alive = false;
            return null;
        });
    }

    private static List<Slot> slots(String kind, int count) {
        List<Slot> slots = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            slots.add(new Slot(i, PREFIX + kind + "-" + i));
        }
        return slots;
    }

    // ---------------------------------------------------------------- phases

    /**
     * Runs one step for every live slot (every slot when {@code creating}), {@code parallel} at a time, and waits
     * for all. A step that throws or returns a reason is recorded as a failure of {@code op}; otherwise its
     * duration is the sample, unless {@code selfTimed} (the step records its own samples). Creating steps mark
     * their slot alive once the thing exists, so later phases (and the delete) see only what was made.
     */
    private void phase(ExecutorService pool, String backend, String path, String op, List<Slot> slots,
            boolean creating, boolean selfTimed, Step step) throws InterruptedException {
        checkInterrupt();
        List<Future<?>> futures = new ArrayList<>();
        AtomicInteger done = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        int total = 0;
        for (Slot s : slots) {
            if (!creating && !s.alive) {
                continue;
            }
            total++;
            int all = slots.size();
            futures.add(pool.submit(() -> {
                long t0 = System.nanoTime();
                String why;
                try {
                    why = step.run(s);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    why = "interrupted";
                } catch (Exception e) {
                    why = e.getMessage() == null ? e.toString() : e.getMessage();
                }
                double took = ms(t0);
                if (why == null) {
                    if (!selfTimed) {
                        data.ok(backend, path, op, s.n, took);
                    }
                } else {
                    failed.incrementAndGet();
                    data.failed(backend, path, op, s.n, why);
                }
                int d = done.incrementAndGet();
                if (creating) {
                    progress("%s %s %s %d/%d: step took %s", backend, path, op, d, all,
                            why == null ? fmt(took) + " ms" : "FAILED: " + why);
                }
            }));
        }
        try {
            for (Future<?> f : futures) {
                f.get();
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("bench step crashed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            futures.forEach(f -> f.cancel(true));
            throw e;
        }
        List<Double> ok = data.samples().stream().filter(x -> x.backend().equals(backend) && x.path().equals(path)
                && x.operation().equals(op) && x.error() == null).map(BenchData.Sample::millis).toList();
        Summary sum = Summary.of(backend, path, op, ok, failed.get());
        progress("%s %s %s: %d/%d ok, p50 %s ms, p90 %s ms, max %s ms", backend, path, op, total - failed.get(),
                total, fmt(sum.p50()), fmt(sum.p90()), fmt(sum.max()));
    }

    // ---------------------------------------------------------------- waiting and cleaning

    /**
     * The compute service as it is now: the manager may be re-activated while the run goes on (a bundle it
     * references statically came or went), so it is looked up for every call, waiting a little when absent.
     */
    private ComputeService cs() {
        ComputeService c = compute.get();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (c == null && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            c = compute.get();
        }
        if (c == null) {
            throw new IllegalStateException("the compute manager is not available");
        }
        return c;
    }

    private ComputeService awaitCompute(BenchOptions o) throws InterruptedException {
        long deadline = System.nanoTime() + o.waitFor().toNanos();
        while (true) {
            ComputeService cs = compute.get();
            if (cs != null) {
                return cs;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the compute manager is not available after " + o.waitFor().toSeconds() + " s");
            }
            Thread.sleep(200);
        }
    }

    /**
     * Waits until the backends asked for (or at least one) have been present for {@link #SETTLE} without a
     * break: in a runtime that has just started, drivers come and go while the deployer installs the bundles.
     */
    private List<String> awaitBackends(BenchOptions o) throws InterruptedException {
        long deadline = System.nanoTime() + o.waitFor().toNanos();
        long since = -1;
        List<String> present = List.of();
        while (true) {
            present = new ArrayList<>();
            for (BackendStatus b : cs().backends()) {
                if (b.present() && drivers.apply(b.name()) != null) {
                    present.add(b.name());
                }
            }
            boolean ok = o.backends().isEmpty() ? !present.isEmpty() : present.containsAll(o.backends());
            long now = System.nanoTime();
            if (!ok) {
                since = -1;
            } else if (since < 0) {
                since = now;
            } else if (now - since >= SETTLE.toNanos()) {
                return o.backends().isEmpty() ? present : o.backends();
            }
            if (now > deadline && !ok) {
                List<String> missing = new ArrayList<>(o.backends());
                missing.removeAll(present);
                throw new IllegalStateException((o.backends().isEmpty() ? "no backend is present"
                        : "backend " + String.join(", ", missing) + " is not present") + " after "
                        + o.waitFor().toSeconds() + " s (see nova:backends)");
            }
            if (now > deadline + SETTLE.toNanos()) {
                return o.backends().isEmpty() ? present : o.backends();
            }
            Thread.sleep(100);
        }
    }

    /** Removes every {@code bench-*} instance, raw container and raw LXC container; reports, never throws. */
    private void removeLeftovers(RawDockerPath rawDocker, RawLxcPath rawLxc) {
        try {
            for (Instance i : cs().list()) {
                if (i.name().startsWith(PREFIX)) {
                    try {
                        cs().delete(i.uuid(), false);
                        progress("bench: removed instance %s", i.name());
                    } catch (RuntimeException e) {
                        progress("bench: could not remove instance %s: %s", i.name(), e.getMessage());
                    }
                }
            }
        } catch (RuntimeException e) {
            progress("bench: could not list instances: %s", e.getMessage());
        }
        if (rawDocker != null) {
            try {
                for (String n : rawDocker.removeLeftovers()) {
                    progress("bench: removed docker container %s", n);
                }
            } catch (IOException e) {
                progress("bench: raw docker containers not checked: %s", e.getMessage());
            }
        }
        try {
            for (String n : rawLxc.removeLeftovers()) {
                progress("bench: removed lxc container %s", n);
            }
        } catch (IOException e) {
            progress("bench: raw lxc containers not checked: %s", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void deleteQuietly(String ref) {
        try {
            cs().delete(ref, false);
        } catch (RuntimeException e) {
            // not there, or cleaned up by the final sweep
        }
    }

    private java.util.Optional<Path> dockerSocket() {
        try {
            Path p = DockerSocketClient.socketOf(dockerHost);
            return Files.exists(p) ? java.util.Optional.of(p) : java.util.Optional.empty();
        } catch (IllegalArgumentException e) {
            progress("bench: %s", e.getMessage());
            return java.util.Optional.empty();
        }
    }

    private static void checkInterrupt() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }

    private static String hostDescription() {
        String kernel = System.getProperty("os.name") + " " + System.getProperty("os.version");
        return kernel + ", " + Runtime.getRuntime().availableProcessors() + " CPUs, Java "
                + System.getProperty("java.version");
    }

    private void progress(String format, Object... args) {
        synchronized (err) {
            err.println(String.format(Locale.ROOT, format, args));
            err.flush();
        }
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.1f", v);
    }
}
