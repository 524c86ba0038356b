package berth.driver.lxc.internal;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Diagnostics;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ExecResult;
import berth.driver.api.HostResources;
import berth.driver.api.ImageInfo;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.io.DurableFiles;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import berth.driver.lxc.internal.image.ImageBases;
import berth.driver.lxc.internal.image.ImageMeta;
import berth.driver.lxc.internal.image.RootfsTarWriter;
import berth.driver.lxc.internal.image.SafeTarExtractor;
import berth.driver.lxc.internal.jna.Libc;
import berth.driver.lxc.internal.jna.Liblxc;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * The LXC backend: containers named {@code berth-<uuid>} under a Berth-owned lxcpath, each an overlayfs layer
 * over a read-only image base, started by {@code lxc-start -d} as a child process and inspected through liblxc
 * (JNA, calls that do not fork). Present while {@link LxcEngine} is (see {@link LxcEngineMonitor}).
 *
 * <p>Per container folder: {@code config} (LXC), {@code berth.json} (labels: uuid, scope, image, flavor), {@code
 * init} (the init script), {@code delta/} and {@code work/} (overlay upper and work), {@code run/exit} (written by
 * init), {@code stop-requested} and {@code suspended} (durable markers written by the driver), {@code
 * console.log} and {@code lxc.log}.
 *
 * <p>Power states are cached: {@link #list()} answers from the cache, which this driver updates on each of its
 * operations, and a watcher checks only whether each running container's init process still exists (a
 * {@code /proc} lookup, no liblxc call) and re-reads a container's state when it does not.
 */
@Component(service = ComputeDriver.class, property = {ComputeDriver.BACKEND + "=lxc", "service.ranking:Integer=50"})
public final class LxcComputeDriver implements ComputeDriver {
    private static final String PREFIX = "berth-";
    private static final String LABELS = "berth.json";
    private static final String STOP_REQUESTED = "stop-requested";
    private static final String SUSPENDED = "suspended";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);
    private static final Duration FREEZE_WAIT = Duration.ofSeconds(10);
    private static final Duration READY_WAIT = Duration.ofSeconds(5);
    private static final long DEFAULT_SLEEP = 2147483647L;

    private final Liblxc lxc;
    private final Libc libc = new Libc();
    private final LxcSettings settings;
    private final Path lxcpath;
    private final String lxcpathStr;
    private final ObjectMapper mapper = new ObjectMapper();
    private final ImageBases bases;
    private final Map<String, ImageBases.Base> baseCache = new ConcurrentHashMap<>();
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();
    private final ScheduledExecutorService watcher;
    private final java.util.concurrent.ExecutorService io;
    private final java.util.concurrent.locks.ReadWriteLock baseUse =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    /** What list() knows of one container without asking liblxc. */
    private record Cached(DriverInstance instance, JsonNode labels, Optional<ProcessHandle> init) {
    }

    @Activate
    public LxcComputeDriver(@Reference(name = "engine") LxcEngine engine) {
        this.lxc = engine.liblxc();
        this.settings = engine.settings();
        this.lxcpath = settings.lxcpath();
        this.lxcpathStr = lxcpath.toString();
        this.bases = new ImageBases(lxcpath.resolve(".images"), settings.allowSetuid(), settings.hostRootId('u'),
                settings.hostRootId('g'), mapper);
        try {
            Files.createDirectories(lxcpath);
        } catch (IOException e) {
            throw new EngineException("cannot create lxc path " + lxcpath + ": " + e.getMessage(), e);
        }
        bases.sweep();
        sweepHalfSpawned();
        for (String uuid : scanUuids()) {
            refresh(uuid);
        }
        watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-lxc-watch");
            t.setDaemon(true);
            return t;
        });
        watcher.scheduleWithFixedDelay(this::watch, 1, 1, TimeUnit.SECONDS);
        io = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "berth-lxc-io");
            t.setDaemon(true);
            return t;
        });
    }

    @Deactivate
    public void close() {
        io.shutdown();
        watcher.shutdownNow();
        try {
            watcher.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String name() {
        return "lxc";
    }

    @Override
    public String engineVersion() {
        return lxc.version();
    }

    @Override
    public Set<ContainerFormat> nativeFormats() {
        return EnumSet.of(ContainerFormat.BARE);
    }

    /** @return the lxcpath (for tests and tools) */
    public Path lxcpath() {
        return lxcpath;
    }

    // ---------------------------------------------------------------- spawn / destroy

    @Override
    public DriverInstance spawn(SpawnSpec spec) {
        String uuid = checkUuid(spec.uuid());
        return locked(uuid, () -> {
            Path dir = dir(uuid);
            if (Files.exists(dir)) {
                throw new ConflictException("instance " + uuid + " already has an LXC container");
            }
            // Held until the labels name the base, so releaseImage cannot delete it in between.
            baseUse.readLock().lock();
            try {
                return spawnLocked(spec, uuid, dir);
            } finally {
                baseUse.readLock().unlock();
            }
        });
    }

    private DriverInstance spawnLocked(SpawnSpec spec, String uuid, Path dir) {
        ImageBases.Base base = base(spec);
        Map<String, String> env = environment(base.meta(), spec.env());
        List<String> argv = command(spec, base.meta());
        String config = LxcContainerConfig.config(settings, dir, spec.hostname(), spec.flavor(), base.rootfs(), env);
        String init = LxcContainerConfig.initScript(argv, base.meta().workdir());
        boolean created = false;
        try {
            Files.createDirectory(dir);
            created = true;
            Files.setAttribute(dir, "unix:mode", 0711);
            Files.createDirectory(dir.resolve("delta"));
            Files.createDirectory(dir.resolve("work"));
            Files.createDirectory(dir.resolve("run"));
            if (settings.unprivileged()) {
                // LXC mounts the overlay as the container's root: upper, work and run must be its own.
                for (String d : new String[] {"delta", "work", "run"}) {
                    Files.setAttribute(dir.resolve(d), "unix:uid", (int) settings.hostRootId('u'));
                    Files.setAttribute(dir.resolve(d), "unix:gid", (int) settings.hostRootId('g'));
                }
            }
            ObjectNode labels = mapper.createObjectNode();
            labels.put("berth.instance", uuid);
            labels.put("berth.scope", settings.scope());
            labels.put("berth.image", spec.image().info().id());
            labels.put("berth.image.sha256", spec.image().sha256());
            labels.put("berth.image.base", base.dir().getFileName().toString());
            com.fasterxml.jackson.databind.node.ArrayNode commandLabel = labels.putArray("berth.command");
            argv.forEach(commandLabel::add);
            labels.put("berth.flavor", spec.flavor().name());
            labels.put("vcpus", spec.flavor().vcpus());
            labels.put("memoryMb", spec.flavor().memoryMb());
            labels.put("pidsLimit", spec.flavor().pidsLimit());
            labels.put("hostname", spec.hostname());
            labels.put("created", Instant.now().toString());
            labels.set("env", mapper.valueToTree(env));
            Files.writeString(dir.resolve("init"), init);
            Files.writeString(dir.resolve("config"), config);
            // Written last: a folder without (parseable) labels is a half-done spawn and is swept at start-up.
            Files.write(dir.resolve(LABELS), mapper.writeValueAsBytes(labels));
            // fsync costs several journal commits (tens of ms on a busy disk): run it beside lxc-start, which only
            // needs the page cache, and wait for both before reporting the container as spawned.
            java.util.concurrent.Future<?> synced = io.submit(() -> {
                for (String f : new String[] {"init", "config", LABELS}) {
                    force(dir.resolve(f));
                }
                DurableFiles.syncDirectory(dir);
                DurableFiles.syncDirectory(lxcpath);
                return null;
            });
            try {
                start(uuid, dir);
            } finally {
                awaitSync(synced, uuid);
            }
            return refresh(uuid);
        } catch (IOException | RuntimeException e) {
            if (created) {
                try {
                    forceStop(uuid);
                    SafeTarExtractor.deleteTree(dir);
                    removeCgroups(uuid);
                } catch (IOException | RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            cache.remove(uuid);
            if (e instanceof RuntimeException r && (r instanceof EngineException || r instanceof ConflictException
                    || r instanceof InvalidInputException)) {
                throw r;
            }
            throw new EngineException("spawn of " + uuid + " failed: " + e.getMessage(), e);
        }
    }

    private static void force(Path file) throws IOException {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static void awaitSync(java.util.concurrent.Future<?> synced, String uuid) throws IOException {
        try {
            synced.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("cannot write the container files of " + uuid + " durably: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            synced.cancel(true);
            throw new IOException("writing the container files of " + uuid + " to disk timed out");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    private ImageBases.Base base(SpawnSpec spec) {
        String key = spec.image().sha256();
        ImageBases.Base b = baseCache.get(key);
        if (b != null && Files.isDirectory(b.rootfs())) {
            return b;
        }
        b = bases.ensure(spec.image());
        baseCache.put(key, b);
        return b;
    }

    private static Map<String, String> environment(ImageMeta meta, Map<String, String> specEnv) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String kv : meta.env()) {
            int i = kv.indexOf('=');
            if (i > 0) {
                env.put(kv.substring(0, i), kv.substring(i + 1));
            }
        }
        specEnv.forEach((k, v) -> {
            if (k.isEmpty() || k.contains("=") || !k.strip().equals(k)) {
                throw new InvalidInputException("invalid environment variable name '" + k + "'");
            }
            LxcContainerConfig.checkValue("environment variable " + k, v);
            env.put(k, v);
        });
        env.putIfAbsent("PATH", LxcContainerConfig.DEFAULT_PATH);
        return env;
    }

    /* Docker's rules: the entrypoint stays, the command (spec, else os_command_line, else Cmd) follows it. */
    private static List<String> command(SpawnSpec spec, ImageMeta meta) {
        List<String> cmd = spec.command();
        if (cmd.isEmpty()) {
            String line = spec.image().info().properties().get(ImageInfo.COMMAND_LINE);
            if (line != null && !line.isBlank()) {
                cmd = Shell.split(line);
            }
        }
        if (cmd.isEmpty()) {
            cmd = meta.cmd();
        }
        List<String> argv = new ArrayList<>(meta.entrypoint());
        argv.addAll(cmd);
        if (argv.isEmpty()) {
            argv = List.of("/.berth/busybox", "sleep", Long.toString(DEFAULT_SLEEP));
        }
        return argv;
    }

    @Override
    public void destroy(String uuid) {
        checkUuid(uuid);
        locked(uuid, () -> {
            Path dir = dir(uuid);
            if (!Files.isDirectory(dir)) {
                cache.remove(uuid);
                return null;
            }
            JsonNode labels = labels(uuid);
            if (labels != null && !settings.scope().equals(labels.path("berth.scope").asText())) {
                throw new NotFoundException("no LXC container for instance " + uuid + " in scope " + settings.scope());
            }
            forceStop(uuid);
            // Not liblxc's destroy(): for an overlay rootfs it would remove storage it thinks it owns; the base is
            // shared, so the driver deletes exactly the instance folder, without following links.
            try {
                Path trash = lxcpath.resolve(".del-" + uuid + "-" + UUID.randomUUID());
                Files.move(dir, trash);
                cache.remove(uuid);
                SafeTarExtractor.deleteTree(trash);
                removeCgroups(uuid);
            } catch (IOException e) {
                throw new EngineException("cannot delete container folder " + dir + ": " + e.getMessage(), e);
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- power

    @Override
    public DriverInstance reboot(String uuid, RebootType type, Duration timeout) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            requireExisting(uuid);
            if (type == RebootType.HARD) {
                forceStop(uuid);
            } else {
                gracefulStop(uuid, timeout);
            }
            return startExisting(uuid);
        });
    }

    @Override
    public DriverInstance powerOff(String uuid, Duration timeout) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            Path dir = requireExisting(uuid);
            try {
                DurableFiles.write(dir.resolve(STOP_REQUESTED), Instant.now().toString().getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new EngineException("cannot record the stop of " + uuid + ": " + e.getMessage(), e);
            }
            gracefulStop(uuid, timeout);
            deleteMarker(dir, SUSPENDED);
            return refresh(uuid);
        });
    }

    @Override
    public DriverInstance powerOn(String uuid) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            requireExisting(uuid);
            try (Liblxc.Container c = open(uuid)) {
                if (c.isRunning()) {
                    return refresh(uuid);
                }
            }
            return startExisting(uuid);
        });
    }

    private DriverInstance startExisting(String uuid) {
        Path dir = dir(uuid);
        try {
            Files.deleteIfExists(dir.resolve("run").resolve("exit"));
            Files.deleteIfExists(dir.resolve("run").resolve("ready"));
            deleteMarker(dir, SUSPENDED);
            start(uuid, dir);
            // Cleared only once the start worked: a crash in between still reads as a requested stop.
            deleteMarker(dir, STOP_REQUESTED);
        } catch (IOException e) {
            throw new EngineException("cannot start " + uuid + ": " + e.getMessage(), e);
        }
        return refresh(uuid);
    }

    private void start(String uuid, Path dir) throws IOException {
        ChildProcess.Result r = ChildProcess.run(List.of(settings.lxcBin().resolve("lxc-start").toString(), "-n",
                name(uuid), "-P", lxcpathStr, "-d"), null, START_TIMEOUT, dir);
        if (r.exit() != 0) {
            throw new EngineException("lxc-start of " + uuid + " failed: " + reason(dir, r));
        }
    }

    private String reason(Path dir, ChildProcess.Result r) {
        String log = tail(dir.resolve("lxc.log"), 3).strip().replace('\n', ' ');
        String out = (r.stderr() + " " + r.stdout()).strip().replace('\n', ' ');
        String why = r.timedOut() ? "timed out" : "exit " + r.exit();
        return why + (out.isEmpty() ? "" : ": " + out) + (log.isEmpty() ? "" : " (lxc.log: " + log + ")");
    }

    /* SIGTERM to init (the init script forwards it), then SIGKILL through liblxc after the timeout. */
    private void gracefulStop(String uuid, Duration timeout) {
        try (Liblxc.Container c = open(uuid)) {
            if (!c.isRunning()) {
                return;
            }
            if (frozen(c)) {
                thaw(uuid, c);
            }
            // Just after a start, init may not have set its traps yet, and PID 1 ignores signals it has no
            // handler for: wait (within the grace period) for its ready mark before sending SIGTERM.
            awaitReady(dir(uuid), c, timeout.compareTo(READY_WAIT) < 0 ? timeout : READY_WAIT);
            int pid = c.initPid();
            if (pid > 0) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
            }
            if (!waitStopped(c, timeout)) {
                c.stop();
                if (!waitStopped(c, KILL_WAIT)) {
                    throw new EngineException("container of " + uuid + " did not stop");
                }
            }
        }
    }

    private static void awaitReady(Path dir, Liblxc.Container c, Duration max) {
        Path ready = dir.resolve("run").resolve("ready");
        long deadline = System.nanoTime() + max.toNanos();
        while (!Files.exists(ready) && System.nanoTime() < deadline && c.isRunning()) {
            sleepMs(2);
        }
    }

    private void forceStop(String uuid) {
        try (Liblxc.Container c = open(uuid)) {
            if (!c.isRunning()) {
                return;
            }
            if (frozen(c)) {
                // A frozen task does not act on SIGKILL until thawed (cgroup v1 freezer).
                thaw(uuid, c);
            }
            c.stop();
            if (!waitStopped(c, KILL_WAIT)) {
                throw new EngineException("container of " + uuid + " did not stop");
            }
        }
    }

    /* stop() and kill return before the container is STOPPED: poll, briefly at first. */
    private static boolean waitStopped(Liblxc.Container c, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long sleep = 2;
        while (true) {
            if ("STOPPED".equals(c.state())) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            sleepMs(sleep);
            sleep = Math.min(50, sleep * 2);
        }
    }

    // ---------------------------------------------------------------- freezer

    @Override
    public DriverInstance pause(String uuid) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            requireExisting(uuid);
            DriverInstance now = refresh(uuid);
            if (now.powerState() != PowerState.RUNNING) {
                throw new ConflictException("instance " + uuid + " is " + now.powerState() + ", not RUNNING");
            }
            freeze(uuid);
            return refresh(uuid);
        });
    }

    @Override
    public DriverInstance unpause(String uuid) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            requireExisting(uuid);
            DriverInstance now = refresh(uuid);
            if (now.powerState() != PowerState.PAUSED) {
                throw new ConflictException("instance " + uuid + " is " + now.powerState() + ", not PAUSED");
            }
            try (Liblxc.Container c = open(uuid)) {
                thaw(uuid, c);
            }
            return refresh(uuid);
        });
    }

    @Override
    public DriverInstance suspend(String uuid) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            Path dir = requireExisting(uuid);
            DriverInstance now = refresh(uuid);
            if (now.powerState() != PowerState.RUNNING && now.powerState() != PowerState.PAUSED) {
                throw new ConflictException("instance " + uuid + " is " + now.powerState() + ", cannot suspend");
            }
            try {
                DurableFiles.write(dir.resolve(SUSPENDED), "freezer".getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new EngineException("cannot record the suspension of " + uuid + ": " + e.getMessage(), e);
            }
            if (now.powerState() == PowerState.RUNNING) {
                freeze(uuid);
            }
            return refresh(uuid);
        });
    }

    @Override
    public DriverInstance resume(String uuid) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            Path dir = requireExisting(uuid);
            DriverInstance now = refresh(uuid);
            if (now.powerState() != PowerState.SUSPENDED) {
                throw new ConflictException("instance " + uuid + " is " + now.powerState() + ", not SUSPENDED");
            }
            try (Liblxc.Container c = open(uuid)) {
                thaw(uuid, c);
            }
            deleteMarker(dir, SUSPENDED);
            return refresh(uuid);
        });
    }

    /* Written straight into freezer.state and polled: liblxc's freeze() sleeps about a second. */
    private void freeze(String uuid) {
        try (Liblxc.Container c = open(uuid)) {
            setFreezer(uuid, c, "FROZEN");
        }
    }

    private void thaw(String uuid, Liblxc.Container c) {
        setFreezer(uuid, c, "THAWED");
    }

    private static void setFreezer(String uuid, Liblxc.Container c, String target) {
        boolean v2 = LxcContainerConfig.cgroupV2();
        String key = v2 ? "cgroup.freeze" : "freezer.state";
        String value = v2 ? ("FROZEN".equals(target) ? "1" : "0") : target;
        if (!c.setCgroupItem(key, value)) {
            throw new EngineException("cannot write " + key + "=" + value + " for " + uuid);
        }
        long deadline = System.nanoTime() + FREEZE_WAIT.toNanos();
        long sleep = 1;
        while (true) {
            String now = c.getCgroupItem(v2 ? "cgroup.events" : "freezer.state");
            boolean done = v2 ? now != null && now.contains("frozen " + value) : target.equals(now);
            if (done) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new EngineException("freezer of " + uuid + " did not reach " + target + " (is " + now + ")");
            }
            sleepMs(sleep);
            sleep = Math.min(20, sleep * 2);
        }
    }

    // ---------------------------------------------------------------- state

    @Override
    public DriverInstance info(String uuid) {
        checkUuid(uuid);
        requireExisting(uuid);
        return refresh(uuid);
    }

    @Override
    public List<DriverInstance> list() {
        Set<String> present = new HashSet<>(scanUuids());
        cache.keySet().retainAll(present);
        List<DriverInstance> out = new ArrayList<>();
        for (String uuid : present) {
            Cached c = cache.get(uuid);
            if (c == null) {
                refresh(uuid);
                c = cache.get(uuid);
            }
            if (c != null && settings.scope().equals(c.labels().path("berth.scope").asText())) {
                out.add(c.instance());
            }
        }
        out.sort((a, b) -> a.uuid().compareTo(b.uuid()));
        return out;
    }

    /* Runs on the watcher thread: only containers whose init process has vanished are re-read. */
    private void watch() {
        try {
            for (Map.Entry<String, Cached> e : cache.entrySet()) {
                Optional<ProcessHandle> init = e.getValue().init();
                if (init.isPresent() && !init.get().isAlive()) {
                    ReentrantLock lock = lockFor(e.getKey());
                    if (lock.tryLock()) {
                        try {
                            refresh(e.getKey());
                        } finally {
                            lock.unlock();
                        }
                    }
                }
            }
        } catch (RuntimeException e) {
            // keep watching; the next operation on the instance re-reads it anyway
        }
    }

    private DriverInstance refresh(String uuid) {
        Path dir = dir(uuid);
        JsonNode labels = labels(uuid);
        if (labels == null) {
            cache.remove(uuid);
            throw new NotFoundException("no LXC container for instance " + uuid);
        }
        String state;
        int pid;
        try (Liblxc.Container c = open(uuid)) {
            state = c.state();
            pid = c.isRunning() ? c.initPid() : -1;
            if (pid > 0 && ("RUNNING".equals(state) || "THAWED".equals(state))) {
                // The monitor's state does not see a freezer written directly: ask the cgroup.
                state = frozen(c) ? "FROZEN" : state;
            }
        }
        boolean stopRequested = Files.exists(dir.resolve(STOP_REQUESTED));
        boolean suspended = Files.exists(dir.resolve(SUSPENDED));
        int exit = readExit(dir);
        PowerState ps;
        switch (state) {
            case "RUNNING", "THAWED", "STARTING" -> ps = suspended ? PowerState.SUSPENDED : PowerState.RUNNING;
            case "FROZEN", "FREEZING" -> ps = suspended ? PowerState.SUSPENDED : PowerState.PAUSED;
            case "STOPPED", "STOPPING", "ABORTING" -> ps = stopRequested || exit == 0 ? PowerState.SHUTDOWN
                    : PowerState.CRASHED;
            default -> ps = PowerState.NOSTATE;
        }
        boolean running = pid > 0;
        DriverInstance di = new DriverInstance(uuid, name(uuid), ps, running ? pid : 0, running ? -1 : exit,
                labels.path("berth.image").asText(null));
        Optional<ProcessHandle> init = running ? ProcessHandle.of(pid) : Optional.empty();
        cache.put(uuid, new Cached(di, labels, init));
        return di;
    }

    private static boolean frozen(Liblxc.Container c) {
        if (LxcContainerConfig.cgroupV2()) {
            String ev = c.getCgroupItem("cgroup.events");
            return ev != null && ev.contains("frozen 1");
        }
        String st = c.getCgroupItem("freezer.state");
        return "FROZEN".equals(st) || "FREEZING".equals(st);
    }

    /* run/ is the container's to write: never follow a link there or block on a FIFO it planted. */
    private int readExit(Path dir) {
        String s = libc.readSmall(dir.resolve("run").resolve("exit").toString(), 16);
        try {
            return s == null || s.isBlank() ? -1 : Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    // ---------------------------------------------------------------- snapshot, console, exec

    @Override
    public SnapshotStream snapshot(String uuid) {
        checkUuid(uuid);
        return locked(uuid, () -> {
            Path dir = requireExisting(uuid);
            JsonNode labels = labels(uuid);
            Path baseRootfs = lxcpath.resolve(".images").resolve(labels.path("berth.image.base").asText())
                    .resolve("rootfs");
            if (!Files.isDirectory(baseRootfs)) {
                throw new EngineException("image base of " + uuid + " is missing: " + baseRootfs);
            }
            Path mnt = lxcpath.resolve(".snap-" + uuid + "-" + UUID.randomUUID());
            try {
                Files.createDirectory(mnt);
                // Both layers as read-only lowers: overlayfs merges whiteouts and opaque folders for us, and a
                // lower may be another mount's upper (the running container's), which an upper could not.
                ChildProcess.Result r = ChildProcess.run(List.of("mount", "-t", "overlay", "overlay", "-o",
                        "ro,lowerdir=" + dir.resolve("delta") + ":" + baseRootfs, mnt.toString()), null,
                        Duration.ofSeconds(30), lxcpath);
                if (r.exit() != 0) {
                    throw new EngineException("cannot mount the snapshot view of " + uuid + ": " + r.stderr().strip());
                }
            } catch (IOException e) {
                removeMount(mnt);
                throw new EngineException("cannot prepare the snapshot of " + uuid + ": " + e.getMessage(), e);
            } catch (RuntimeException e) {
                removeMount(mnt);
                throw e;
            }
            PipedInputStream in = new PipedInputStream(1 << 16);
            PipedOutputStream out;
            try {
                out = new PipedOutputStream(in);
            } catch (IOException e) {
                removeMount(mnt);
                throw new EngineException("cannot open a pipe: " + e.getMessage(), e);
            }
            Thread writer = new Thread(() -> {
                try (OutputStream o = out) {
                    // The container may change its files while they are read: never follow or block.
                    RootfsTarWriter.write(mnt, Set.of(".berth"), o, libc::openRegular);
                } catch (IOException e) {
                    // The reader sees a broken pipe / short archive; nothing else to tell here.
                }
            }, "berth-lxc-snapshot-" + uuid);
            writer.setDaemon(true);
            writer.start();
            Runnable cleanup = () -> {
                try {
                    in.close();
                } catch (IOException e) {
                    // closing a pipe
                }
                try {
                    writer.join(TimeUnit.SECONDS.toMillis(30));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                removeMount(mnt);
            };
            return new SnapshotStream(ContainerFormat.BARE, DiskFormat.RAW, in, cleanup);
        });
    }

    private void removeMount(Path mnt) {
        try {
            ChildProcess.run(List.of("umount", mnt.toString()), null, Duration.ofSeconds(30), lxcpath);
        } catch (IOException e) {
            // the rmdir below then fails too and the sweep at start-up retries
        }
        try {
            Files.deleteIfExists(mnt);
        } catch (IOException e) {
            // still mounted: leave it for the sweep
        }
    }

    @Override
    public String consoleOutput(String uuid, int lines) {
        checkUuid(uuid);
        Path dir = requireExisting(uuid);
        int want = Math.max(0, lines);
        String recent = tail(dir.resolve("console.log"), want);
        int have = (int) recent.chars().filter(ch -> ch == '\n').count()
                + (recent.isEmpty() || recent.endsWith("\n") ? 0 : 1);
        if (have < want) {
            // The start of the window may sit in the file LXC rotated away.
            recent = tail(dir.resolve("console.log.1"), want - have) + recent;
        }
        return recent;
    }

    private static String tail(Path file, int lines) {
        if (lines <= 0) {
            return "";
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            long pos = len;
            int found = 0;
            byte[] buf = new byte[8192];
            long start = 0;
            outer:
            while (pos > 0) {
                int n = (int) Math.min(buf.length, pos);
                pos -= n;
                f.seek(pos);
                f.readFully(buf, 0, n);
                for (int i = n - 1; i >= 0; i--) {
                    if (buf[i] == '\n' && pos + i != len - 1) {
                        if (++found == lines) {
                            start = pos + i + 1;
                            break outer;
                        }
                    }
                }
            }
            if (len - start > (16 << 20)) {
                start = len - (16 << 20);
            }
            byte[] out = new byte[(int) (len - start)];
            f.seek(start);
            f.readFully(out);
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public ExecResult exec(String uuid, List<String> argv, Map<String, String> env, Duration timeout) {
        checkUuid(uuid);
        if (argv == null || argv.isEmpty()) {
            throw new InvalidInputException("exec needs a command");
        }
        Path dir = requireExisting(uuid);
        DriverInstance now = refresh(uuid);
        if (now.powerState() != PowerState.RUNNING) {
            throw new ConflictException("instance " + uuid + " is " + now.powerState() + ", not RUNNING");
        }
        Map<String, String> all = new LinkedHashMap<>();
        labels(uuid).path("env").fields().forEachRemaining(e -> all.put(e.getKey(), e.getValue().asText()));
        if (env != null) {
            env.forEach((k, v) -> {
                if (k.isEmpty() || k.contains("=")) {
                    throw new InvalidInputException("invalid environment variable name '" + k + "'");
                }
                all.put(k, v);
            });
        }
        long secs = Math.max(1, (timeout == null ? Duration.ofMinutes(5) : timeout).toSeconds());
        List<String> cmd = new ArrayList<>(List.of(settings.lxcBin().resolve("lxc-attach").toString(), "-n",
                name(uuid), "-P", lxcpathStr, "--clear-env"));
        all.forEach((k, v) -> {
            cmd.add("--set-var");
            cmd.add(k + "=" + v);
        });
        // The kill happens inside the container, so a timed-out command does not outlive lxc-attach.
        cmd.addAll(List.of("--", "/.berth/busybox", "timeout", "-s", "KILL", Long.toString(secs)));
        cmd.addAll(argv);
        try {
            ChildProcess.Result r = ChildProcess.run(cmd, null, Duration.ofSeconds(secs + 10), dir);
            return new ExecResult(r.timedOut() ? 137 : r.exit(), r.stdout(), r.stderr());
        } catch (IOException e) {
            throw new EngineException("lxc-attach to " + uuid + " failed: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- resources

    @Override
    public Diagnostics diagnostics(String uuid) {
        checkUuid(uuid);
        requireExisting(uuid);
        JsonNode labels = labels(uuid);
        boolean v2 = LxcContainerConfig.cgroupV2();
        Map<String, String> extra = new HashMap<>();
        try (Liblxc.Container c = open(uuid)) {
            extra.put("state", c.state());
            if (!c.isRunning()) {
                return new Diagnostics(0, 0, labels.path("memoryMb").asLong() << 20, 0, labels.path("pidsLimit").asLong(),
                        extra);
            }
            long cpu;
            long mem;
            long memLimit;
            if (v2) {
                cpu = parseKey(c.getCgroupItem("cpu.stat"), "usage_usec") * 1000;
                mem = num(c.getCgroupItem("memory.current"));
                memLimit = num(c.getCgroupItem("memory.max"));
                extra.put("cpu.weight", String.valueOf(c.getCgroupItem("cpu.weight")));
            } else {
                cpu = num(c.getCgroupItem("cpuacct.usage"));
                mem = num(c.getCgroupItem("memory.usage_in_bytes"));
                memLimit = num(c.getCgroupItem("memory.limit_in_bytes"));
                extra.put("cpu.shares", String.valueOf(c.getCgroupItem("cpu.shares")));
                extra.put("memory.max_usage_in_bytes", String.valueOf(c.getCgroupItem("memory.max_usage_in_bytes")));
                extra.put("memory.failcnt", String.valueOf(c.getCgroupItem("memory.failcnt")));
                extra.put("freezer.state", String.valueOf(c.getCgroupItem("freezer.state")));
            }
            long pids = num(c.getCgroupItem("pids.current"));
            long pidsMax = num(c.getCgroupItem("pids.max"));
            extra.put("init.pid", Integer.toString(c.initPid()));
            return new Diagnostics(cpu, mem, memLimit, pids, pidsMax, extra);
        }
    }

    private static long num(String s) {
        if (s == null || s.isBlank() || s.strip().equals("max")) {
            return 0;
        }
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long parseKey(String s, String key) {
        if (s != null) {
            for (String line : s.split("\n")) {
                String[] kv = line.strip().split("\\s+");
                if (kv.length == 2 && kv[0].equals(key)) {
                    return num(kv[1]);
                }
            }
        }
        return 0;
    }

    @Override
    public HostResources hostResources() {
        List<DriverInstance> all = list();
        int vcpus = 0;
        long mem = 0;
        for (DriverInstance d : all) {
            Cached c = cache.get(d.uuid());
            if (c != null) {
                vcpus += c.labels().path("vcpus").asInt();
                mem += c.labels().path("memoryMb").asLong() << 20;
            }
        }
        long total = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    total = Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            total = 0;
        }
        long disk = 0;
        long free = 0;
        try {
            FileStore fs = Files.getFileStore(lxcpath);
            disk = fs.getTotalSpace();
            free = fs.getUsableSpace();
        } catch (IOException e) {
            // report zeros
        }
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("engine", "liblxc " + lxc.version());
        extra.put("lxc.path", lxcpathStr);
        extra.put("scope", settings.scope());
        extra.put("suspend.mode", "freezer");
        extra.put("storage", "overlay");
        extra.put("cgroup", LxcContainerConfig.cgroupV2() ? "v2" : "v1");
        extra.put("privileged", Boolean.toString(!settings.unprivileged()));
        extra.put("apparmor", "unconfined");
        extra.put("seccomp", settings.seccompProfile().isBlank() ? "none" : settings.seccompProfile());
        return new HostResources("lxc", Runtime.getRuntime().availableProcessors(), total, disk, free, all.size(),
                vcpus, mem, extra);
    }

    @Override
    public Optional<Path> netnsPath(String uuid) {
        long pid = info(uuid).initPid();
        return pid > 0 ? Optional.of(Path.of("/proc", Long.toString(pid), "ns", "net")) : Optional.empty();
    }

    @Override
    public void releaseImage(String imageId) {
        baseUse.writeLock().lock();
        try {
            releaseUnused(imageId);
        } finally {
            baseUse.writeLock().unlock();
        }
    }

    private void releaseUnused(String imageId) {
        Set<String> inUse = new HashSet<>();
        for (String uuid : scanUuids()) {
            JsonNode l = labels(uuid);
            if (l != null) {
                inUse.add(l.path("berth.image.base").asText());
            }
        }
        for (ImageBases.Base b : bases.list()) {
            if (b.imageId().equals(imageId) && !inUse.contains(b.dir().getFileName().toString())) {
                baseCache.remove(b.sha256());
                bases.delete(b);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static String checkUuid(String uuid) {
        if (uuid == null || !uuid.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")) {
            throw new InvalidInputException("invalid instance uuid '" + uuid + "'");
        }
        return uuid;
    }

    private static String name(String uuid) {
        return PREFIX + uuid;
    }

    private Path dir(String uuid) {
        return lxcpath.resolve(name(uuid));
    }

    private Path requireExisting(String uuid) {
        Path dir = dir(uuid);
        JsonNode labels = labels(uuid);
        if (labels == null || !settings.scope().equals(labels.path("berth.scope").asText())) {
            throw new NotFoundException("no LXC container for instance " + uuid);
        }
        return dir;
    }

    @Override
    public List<String> command(String uuid) {
        JsonNode labels = labels(uuid);
        if (labels == null) {
            throw new NotFoundException("no LXC container for instance " + uuid);
        }
        List<String> out = new ArrayList<>();
        labels.path("berth.command").forEach(n -> out.add(n.asText()));
        return out;
    }

    private JsonNode labels(String uuid) {
        Cached c = cache.get(uuid);
        if (c != null && Files.isDirectory(dir(uuid))) {
            return c.labels();
        }
        Path f = dir(uuid).resolve(LABELS);
        try {
            return Files.isRegularFile(f) ? mapper.readTree(f.toFile()) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private List<String> scanUuids() {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(lxcpath, PREFIX + "*")) {
            for (Path d : ds) {
                if (Files.isRegularFile(d.resolve(LABELS))) {
                    out.add(d.getFileName().toString().substring(PREFIX.length()));
                }
            }
        } catch (IOException e) {
            throw new EngineException("cannot list " + lxcpath + ": " + e.getMessage(), e);
        }
        return out;
    }

    /* Folders without labels are spawns a crash interrupted; trash folders are interrupted deletions. */
    private void sweepHalfSpawned() {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(lxcpath)) {
            for (Path d : ds) {
                String n = d.getFileName().toString();
                boolean halfSpawned = n.startsWith(PREFIX) && !Files.exists(d.resolve(LABELS));
                if (halfSpawned || n.startsWith(".del-")) {
                    try (Liblxc.Container c = lxc.open(n, lxcpathStr)) {
                        if (halfSpawned && c.isRunning()) {
                            continue;
                        }
                    }
                    SafeTarExtractor.deleteTree(d);
                } else if (n.startsWith(".snap-")) {
                    removeMount(d);
                }
            }
        } catch (IOException e) {
            // best effort
        }
    }

    /*
     * The monitor removes its cgroups as it exits, but a monitor that exits early or races a stop can leave an
     * empty lxc.monitor.<name> behind; rmdir of a cgroup succeeds only once it is empty.
     */
    private void removeCgroups(String uuid) {
        if (!tryRemoveCgroups(uuid)) {
            // The monitor is still tearing down: finish in the background instead of delaying destroy.
            try {
                io.submit(() -> {
                    for (int i = 0; i < 100 && !tryRemoveCgroups(uuid); i++) {
                        Thread.sleep(50);
                    }
                    return null;
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // deactivated: the monitor removes its own cgroup when it exits normally
            }
        }
    }

    /** @return true when none of the container's cgroups is left */
    static boolean tryRemoveCgroups(String uuid) {
        List<Path> hierarchies = new ArrayList<>();
        Path root = Path.of("/sys/fs/cgroup");
        hierarchies.add(root);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            ds.forEach(hierarchies::add);
        } catch (IOException e) {
            return true;
        }
        boolean left = false;
        for (Path h : hierarchies) {
            for (String kind : new String[] {"lxc.payload.", "lxc.monitor."}) {
                Path cg = h.resolve(kind + PREFIX + uuid);
                if (Files.isDirectory(cg)) {
                    try {
                        Files.delete(cg);
                    } catch (IOException e) {
                        left = true;
                    }
                }
            }
        }
        return !left;
    }

    /** @return whether any cgroup of the container exists (without touching it) */
    static boolean cgroupsLeft(String uuid) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/sys/fs/cgroup"))) {
            for (Path h : ds) {
                if (Files.isDirectory(h.resolve("lxc.payload." + PREFIX + uuid))
                        || Files.isDirectory(h.resolve("lxc.monitor." + PREFIX + uuid))) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    private Liblxc.Container open(String uuid) {
        return lxc.open(name(uuid), lxcpathStr);
    }

    private static void deleteMarker(Path dir, String marker) {
        try {
            DurableFiles.delete(dir.resolve(marker));
        } catch (IOException e) {
            throw new EngineException("cannot remove " + marker + " of " + dir.getFileName() + ": " + e.getMessage(), e);
        }
    }

    private ReentrantLock lockFor(String uuid) {
        return locks.computeIfAbsent(uuid, k -> new ReentrantLock());
    }

    private <T> T locked(String uuid, java.util.function.Supplier<T> action) {
        ReentrantLock lock = lockFor(uuid);
        lock.lock();
        try {
            return action.get();
        } finally {
            lock.unlock();
        }
    }

    private static void sleepMs(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted");
        }
    }
}
