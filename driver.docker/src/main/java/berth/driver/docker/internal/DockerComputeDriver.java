package berth.driver.docker.internal;

import berth.driver.api.BerthException;
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
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.InspectExecResponse;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.api.model.EventType;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.Image;
import com.github.dockerjava.api.model.Info;
import com.github.dockerjava.api.model.Statistics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The Docker backend. Present while {@link DockerEngineMonitor} says the engine answers. Containers are named
 * {@code berth-<scope>-<uuid>} and labelled {@code berth.instance}, {@code berth.scope}, {@code berth.flavor},
 * {@code berth.image}; the driver sees only its scope's. Their state is kept in memory from the engine's event
 * stream, so {@link #list()} asks the engine nothing.
 */
@Component(service = ComputeDriver.class, configurationPid = DockerComputeDriver.PID,
        property = {ComputeDriver.BACKEND + "=docker", Constants.SERVICE_RANKING + ":Integer=100"})
@Designate(ocd = DockerComputeDriver.Config.class)
public final class DockerComputeDriver implements ComputeDriver, AutoCloseable {

    /** Configuration PID of the driver (the engine connection is {@link DockerEngineMonitor#PID}'s). */
    public static final String PID = "berth.driver.docker.compute";

    static final String L_INSTANCE = "berth.instance";
    static final String L_SCOPE = "berth.scope";
    static final String L_FLAVOR = "berth.flavor";
    static final String L_IMAGE = "berth.image";

    private static final Logger LOG = Logger.getLogger(DockerComputeDriver.class.getName());
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
    private static final Pattern MESSAGE = Pattern.compile("\"message\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final int OUTPUT_CAP = 8 << 20;
    private static final Set<String> STATE_EVENTS = Set.of("start", "die", "stop", "kill", "oom", "pause",
            "unpause", "restart", "destroy", "update");

    @ObjectClassDefinition(name = "Berth Docker compute driver")
    public @interface Config {
        @AttributeDefinition(description = "Scope of the containers this driver owns; empty means berth.scope (default 'default')")
        String scope() default "";

        @AttributeDefinition(description = "State directory; empty means berth.state.dir (default /var/lib/berth)")
        String state_dir() default "";

        @AttributeDefinition(description = "Also cap CPU time at vCPUs x 100% (CFS quota), not only weight it")
        boolean cpu_quota() default false;
    }

    /**
     * @param scope     scope label value
     * @param stateDir  {@code berth.state.dir}
     * @param cpuQuota  whether to set a CFS quota
     */
    public record Options(String scope, Path stateDir, boolean cpuQuota) {
        public Options {
            if (scope == null || !SAFE.matcher(scope).matches()) {
                throw new IllegalArgumentException("invalid berth scope '" + scope + "'");
            }
        }
    }

    private final DockerEngine engine;
    private final Options options;
    private final DockerSettings.Clients clients;
    private final DockerClient docker;
    private final DriverMarks marks;
    private final String suspendMode;
    private final String criuStatus;
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();
    private final Map<String, Object> imageLocks = new ConcurrentHashMap<>();
    private final Set<String> loaded = ConcurrentHashMap.newKeySet();
    private final Thread eventThread;
    private final AtomicReference<java.io.Closeable> eventStream = new AtomicReference<>();
    private volatile boolean closed;
    /** Fault injection for tests: runs between create and start. */
    volatile java.util.function.Consumer<String> afterCreate = id -> { };

    @Activate
    public DockerComputeDriver(BundleContext context, Config config, @Reference(name = "engine") DockerEngine engine) {
        this(engine, new Options(value(config.scope(), context.getProperty("berth.scope"), "default"),
                Path.of(value(config.state_dir(), context.getProperty("berth.state.dir"), "/var/lib/berth")),
                config.cpu_quota()));
    }

    /**
     * @param engine  the engine, as the monitor found it
     * @param options scope, state directory, CPU quota
     */
    public DockerComputeDriver(DockerEngine engine, Options options) {
        this.engine = engine;
        this.options = options;
        this.marks = new DriverMarks(options.stateDir().resolve("docker").resolve(options.scope()));
        String criu = criuCheck();
        this.criuStatus = criu;
        // A CRIU checkpoint needs `criu check` to pass and an experimental dockerd; until both hold the freezer
        // (docker pause) is the suspend, recorded as such so the instance reads SUSPENDED.
        this.suspendMode = "freezer";
        this.clients = engine.settings().connect(null);
        this.docker = clients.docker();
        this.eventThread = new Thread(this::followEvents, "berth-docker-events " + options.scope());
        eventThread.setDaemon(true);
        try {
            resync();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "docker driver: first listing failed, retrying from the event thread: "
                    + e.getMessage());
        }
        eventThread.start();
    }

    private static String value(String configured, String property, String dflt) {
        if (configured != null && !configured.isBlank()) {
            return configured;
        }
        return property == null || property.isBlank() ? dflt : property;
    }

    @Deactivate
    @Override
    public void close() {
        closed = true;
        java.io.Closeable s = eventStream.getAndSet(null);
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        eventThread.interrupt();
        clients.close();
    }

    @Override
    public String name() {
        return "docker";
    }

    @Override
    public String engineVersion() {
        return engine.version();
    }

    @Override
    public Set<ContainerFormat> nativeFormats() {
        return EnumSet.of(ContainerFormat.DOCKER);
    }

    /** @return the scope this driver owns */
    public String scope() {
        return options.scope();
    }

    /** @param uuid instance uuid @return its container name */
    public String containerName(String uuid) {
        return "berth-" + options.scope() + "-" + uuid;
    }

    /**
     * @param image image id
     * @return the engine's reference for an image's copy ({@code berth/<id>:<sha256>}); the tag is the data's
     *         checksum, so changed bytes make a new copy and the same bytes are loaded once
     */
    public static String imageRef(LocalImage image) {
        return imageRepo(image.info().id()) + ":" + image.sha256();
    }

    static String imageRepo(String imageId) {
        return "berth/" + imageId.toLowerCase(Locale.ROOT);
    }

    // ---------------------------------------------------------------- spawn

    @Override
    public DriverInstance spawn(SpawnSpec spec) {
        String uuid = checkUuid(spec.uuid());
        String name = containerName(uuid);
        List<String> command = command(spec);
        String ref = ensureImage(spec.image());
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(L_INSTANCE, uuid);
        labels.put(L_SCOPE, options.scope());
        labels.put(L_FLAVOR, spec.flavor().name());
        labels.put(L_IMAGE, spec.image().info().id());
        long memory = spec.flavor().memoryBytes();
        HostConfig host = HostConfig.newHostConfig()
                .withNetworkMode("none")
                .withInit(true)
                .withMemory(memory)
                .withMemorySwap(memory)
                .withCpuShares(1024 * spec.flavor().vcpus())
                .withPidsLimit((long) spec.flavor().pidsLimit())
                .withPrivileged(false);
        if (options.cpuQuota()) {
            host.withCpuPeriod(100_000L).withCpuQuota(100_000L * spec.flavor().vcpus());
        }
        List<String> env = new ArrayList<>();
        spec.env().forEach((k, v) -> env.add(k + "=" + v));
        CreateContainerCmd create = docker.createContainerCmd(ref).withName(name).withHostName(hostname(spec))
                .withLabels(labels).withEnv(env).withHostConfig(host);
        if (!command.isEmpty()) {
            create.withCmd(command);
        }
        String id;
        try {
            id = create.exec().getId();
        } catch (com.github.dockerjava.api.exception.ConflictException e) {
            // the name is the uuid's: the engine refuses a second one, nothing was created
            throw new ConflictException("instance " + uuid + " already has a docker container " + name);
        } catch (com.github.dockerjava.api.exception.NotFoundException e) {
            // the image copy vanished behind our back (docker rmi): load it again, once
            loaded.remove(ref);
            try {
                id = create.withImage(ensureImage(spec.image())).exec().getId();
            } catch (RuntimeException again) {
                throw error("create container for " + uuid, again);
            }
        } catch (RuntimeException e) {
            throw error("create container for " + uuid, e);
        }
        try {
            afterCreate.accept(id);
            docker.startContainerCmd(id).exec();
            InspectContainerResponse r = docker.inspectContainerCmd(id).exec();
            InspectContainerResponse.ContainerState st = r.getState();
            if (!Boolean.TRUE.equals(st.getRunning()) && Boolean.TRUE.equals(st.getOOMKilled())) {
                throw new EngineException("instance " + uuid + " ran out of memory at start (flavor "
                        + spec.flavor().name() + ": " + spec.flavor().memoryMb() + " MB)");
            }
            marks.forget(uuid);
            return toInstance(remember(r, sequence.incrementAndGet()));
        } catch (RuntimeException e) {
            try {
                docker.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            cache.remove(uuid);
            throw e instanceof BerthException be ? be : error("start " + uuid, e);
        }
    }

    private static String hostname(SpawnSpec spec) {
        String h = spec.hostname().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
        h = h.replaceAll("^-+", "");
        return h.isEmpty() ? "instance" : h.length() > 63 ? h.substring(0, 63) : h;
    }

    private static List<String> command(SpawnSpec spec) {
        if (!spec.command().isEmpty()) {
            return spec.command();
        }
        String line = spec.image().info().properties().get(ImageInfo.COMMAND_LINE);
        if (line != null && !line.isBlank()) {
            return CommandLines.split(line);
        }
        if (spec.image().info().containerFormat() == ContainerFormat.BARE) {
            throw new InvalidInputException("image " + spec.image().info().id()
                    + " is a root filesystem without a command: give one or set the image property "
                    + ImageInfo.COMMAND_LINE);
        }
        return List.of();
    }

    /**
     * Makes the image present in the engine as {@link #imageRef}: {@code docker load} of a docker archive (then
     * tagged), or an import of a rootfs tarball. A failure leaves no tag behind.
     */
    String ensureImage(LocalImage image) {
        String ref = imageRef(image);
        Object lock = imageLocks.computeIfAbsent(ref, k -> new Object());
        if (loaded.contains(ref)) {
            return ref;
        }
        synchronized (lock) {
            if (imageExists(ref)) {
                loaded.add(ref);
                return ref;
            }
            String repo = imageRepo(image.info().id());
            String tag = image.sha256();
            String what = "image " + image.info().id() + (image.info().name() == null ? "" : " (" + image.info().name() + ")");
            if (image.info().containerFormat() == ContainerFormat.DOCKER) {
                String id;
                try {
                    id = DockerArchives.imageId(image.file());
                } catch (EngineException e) {
                    throw new EngineException(what + " is corrupt: " + e.getMessage(), e);
                }
                boolean existed = imageExists(id);
                try (InputStream in = Files.newInputStream(image.file())) {
                    postTar("/images/load?quiet=1", in);
                } catch (IOException | RuntimeException e) {
                    throw error("docker load of " + what, e);
                }
                if (!imageExists(id)) {
                    throw new EngineException("docker load of " + what + " did not produce image " + id
                            + ": the archive is corrupt");
                }
                try {
                    docker.tagImageCmd(id, repo, tag).exec();
                } catch (RuntimeException e) {
                    if (!existed) {
                        removeImageQuietly(id);
                    }
                    throw error("tag " + what, e);
                }
            } else {
                try (InputStream in = Files.newInputStream(image.file())) {
                    postTar("/images/create?fromSrc=-&repo=" + java.net.URLEncoder.encode(repo, StandardCharsets.UTF_8)
                            + "&tag=" + java.net.URLEncoder.encode(tag, StandardCharsets.UTF_8), in);
                } catch (IOException | RuntimeException e) {
                    removeImageQuietly(ref);
                    throw error("docker import of " + what, e);
                }
                if (!imageExists(ref)) {
                    throw new EngineException("docker import of " + what + " produced no image: the tarball is corrupt");
                }
            }
            loaded.add(ref);
            return ref;
        }
    }

    /**
     * Streams a tar to {@code /images/load} or {@code /images/create?fromSrc=-} through the raw transport:
     * docker-java's commands send no tar content type (dockerd then parses an import body as a form: "unexpected
     * EOF") and ignore the answer, a JSON stream whose errors come with a 200 status; it is read to the end here.
     */
    private void postTar(String path, InputStream in) throws IOException {
        var req = com.github.dockerjava.transport.DockerHttpClient.Request.builder()
                .method(com.github.dockerjava.transport.DockerHttpClient.Request.Method.POST).path(path)
                .putHeader("Content-Type", "application/x-tar").body(in).build();
        try (var res = clients.http().execute(req); InputStream body = res.getBody()) {
            String answer = new String(body.readNBytes(1 << 20), StandardCharsets.UTF_8);
            if (res.getStatusCode() / 100 != 2) {
                throw new EngineException("HTTP " + res.getStatusCode() + ": " + message(new IOException(answer)));
            }
            Matcher m = Pattern.compile("\"error\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(answer);
            if (m.find()) {
                throw new EngineException(m.group(1));
            }
        }
    }

    private boolean imageExists(String ref) {
        try {
            docker.inspectImageCmd(ref).exec();
            return true;
        } catch (com.github.dockerjava.api.exception.NotFoundException e) {
            return false;
        } catch (RuntimeException e) {
            throw error("inspect image " + ref, e);
        }
    }

    private void removeImageQuietly(String ref) {
        try {
            docker.removeImageCmd(ref).withForce(false).exec();
        } catch (RuntimeException ignored) {
            // absent, or in use
        }
    }

    @Override
    public void releaseImage(String imageId) {
        String repo = imageRepo(imageId);
        List<Image> images;
        try {
            images = docker.listImagesCmd().withImageNameFilter(repo).exec();
        } catch (RuntimeException e) {
            throw error("list images of " + imageId, e);
        }
        for (Image i : images) {
            for (String t : i.getRepoTags() == null ? new String[0] : i.getRepoTags()) {
                if (t.startsWith(repo + ":")) {
                    loaded.remove(t);
                    removeImageQuietly(t);
                }
            }
        }
    }

    // ---------------------------------------------------------------- power

    @Override
    public void destroy(String uuid) {
        String name = containerName(checkUuid(uuid));
        try {
            docker.removeContainerCmd(name).withForce(true).withRemoveVolumes(true).exec();
        } catch (com.github.dockerjava.api.exception.NotFoundException e) {
            // destroying what is not there is fine: the caller may be cleaning up after a half-done spawn
        } catch (RuntimeException e) {
            if (!message(e).contains("is already in progress")) {
                throw error("destroy " + uuid, e);
            }
        }
        cache.remove(uuid);
        marks.forget(uuid);
    }

    @Override
    public DriverInstance reboot(String uuid, RebootType type, Duration timeout) {
        Cached c = require(uuid);
        thaw(c);
        try {
            if (type == RebootType.HARD) {
                if (running(c.id)) {
                    docker.killContainerCmd(c.id).exec();
                }
            } else {
                docker.stopContainerCmd(c.id).withTimeout(seconds(timeout)).exec();
            }
        } catch (NotModifiedException e) {
            // already stopped
        } catch (RuntimeException e) {
            if (!message(e).contains("is not running")) {
                throw error("reboot " + uuid, e);
            }
        }
        waitStopped(c.id);
        return start(uuid, c.id);
    }

    @Override
    public DriverInstance powerOff(String uuid, Duration timeout) {
        Cached c = require(uuid);
        marks.set(uuid, DriverMarks.STOPPED, true);
        thaw(c);
        try {
            docker.stopContainerCmd(c.id).withTimeout(seconds(timeout)).exec();
        } catch (NotModifiedException e) {
            // already stopped: the request still makes it SHUTDOWN
        } catch (RuntimeException e) {
            throw error("power off " + uuid, e);
        }
        waitStopped(c.id);
        return refresh(uuid, c.id);
    }

    @Override
    public DriverInstance powerOn(String uuid) {
        Cached c = require(uuid);
        if (marks.has(uuid, DriverMarks.SUSPENDED) || "paused".equals(c.status)) {
            throw new ConflictException("instance " + uuid + " is " + (marks.has(uuid, DriverMarks.SUSPENDED)
                    ? "suspended: resume it" : "paused: unpause it"));
        }
        if (running(c.id)) {
            return refresh(uuid, c.id);
        }
        return start(uuid, c.id);
    }

    private DriverInstance start(String uuid, String id) {
        marks.set(uuid, DriverMarks.STOPPED, false);
        try {
            docker.startContainerCmd(id).exec();
        } catch (NotModifiedException e) {
            // already running
        } catch (RuntimeException e) {
            throw error("start " + uuid, e);
        }
        return refresh(uuid, id);
    }

    /** Undoes a pause or suspend, so a stop reaches the workload. */
    private void thaw(Cached c) {
        InspectContainerResponse r = inspect(c.id);
        if (Boolean.TRUE.equals(r.getState().getPaused())) {
            try {
                docker.unpauseContainerCmd(c.id).exec();
            } catch (RuntimeException e) {
                throw error("unpause " + c.uuid, e);
            }
        }
        marks.set(c.uuid, DriverMarks.SUSPENDED, false);
    }

    @Override
    public DriverInstance pause(String uuid) {
        Cached c = require(uuid);
        if (marks.has(uuid, DriverMarks.SUSPENDED)) {
            throw new ConflictException("instance " + uuid + " is suspended");
        }
        try {
            docker.pauseContainerCmd(c.id).exec();
        } catch (RuntimeException e) {
            throw error("pause " + uuid, e);
        }
        return refresh(uuid, c.id);
    }

    @Override
    public DriverInstance unpause(String uuid) {
        Cached c = require(uuid);
        if (marks.has(uuid, DriverMarks.SUSPENDED)) {
            throw new ConflictException("instance " + uuid + " is suspended: resume it");
        }
        try {
            docker.unpauseContainerCmd(c.id).exec();
        } catch (RuntimeException e) {
            throw error("unpause " + uuid, e);
        }
        return refresh(uuid, c.id);
    }

    @Override
    public DriverInstance suspend(String uuid) {
        Cached c = require(uuid);
        InspectContainerResponse r = inspect(c.id);
        if (!Boolean.TRUE.equals(r.getState().getRunning()) || Boolean.TRUE.equals(r.getState().getPaused())) {
            throw new ConflictException("instance " + uuid + " is not running");
        }
        try {
            docker.pauseContainerCmd(c.id).exec();
        } catch (RuntimeException e) {
            throw error("suspend " + uuid, e);
        }
        marks.set(uuid, DriverMarks.SUSPENDED, true);
        return refresh(uuid, c.id);
    }

    @Override
    public DriverInstance resume(String uuid) {
        Cached c = require(uuid);
        if (!marks.has(uuid, DriverMarks.SUSPENDED)) {
            throw new ConflictException("instance " + uuid + " is not suspended");
        }
        try {
            docker.unpauseContainerCmd(c.id).exec();
        } catch (RuntimeException e) {
            if (!message(e).contains("is not paused")) {
                throw error("resume " + uuid, e);
            }
        }
        marks.set(uuid, DriverMarks.SUSPENDED, false);
        return refresh(uuid, c.id);
    }

    private boolean running(String id) {
        return Boolean.TRUE.equals(inspect(id).getState().getRunning());
    }

    private void waitStopped(String id) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (running(id)) {
            if (System.nanoTime() > deadline) {
                throw new EngineException("container " + id + " did not stop");
            }
            sleep(20);
        }
    }

    // ---------------------------------------------------------------- snapshot, console, exec

    @Override
    public SnapshotStream snapshot(String uuid) {
        Cached c = require(uuid);
        String repo = "berth/snapshot-" + UUID.randomUUID().toString().replace("-", "");
        String imageId;
        try {
            imageId = docker.commitCmd(c.id).withRepository(repo).withTag("latest").withPause(true).exec();
        } catch (RuntimeException e) {
            throw error("commit " + uuid, e);
        }
        Runnable cleanup = () -> removeImageQuietly(repo + ":latest");
        try {
            // saved by id, so the archive carries no tag that a later load would recreate
            InputStream data = docker.saveImageCmd(imageId).exec();
            return new SnapshotStream(ContainerFormat.DOCKER, DiskFormat.RAW, data, cleanup);
        } catch (RuntimeException e) {
            cleanup.run();
            throw error("save snapshot of " + uuid, e);
        }
    }

    @Override
    public List<String> command(String uuid) {
        InspectContainerResponse r = findContainer(containerName(checkUuid(uuid)))
                .orElseThrow(() -> new NotFoundException("no Docker container for instance " + uuid));
        List<String> out = new ArrayList<>();
        if (r.getConfig() != null) {
            if (r.getConfig().getEntrypoint() != null) {
                out.addAll(Arrays.asList(r.getConfig().getEntrypoint()));
            }
            if (r.getConfig().getCmd() != null) {
                out.addAll(Arrays.asList(r.getConfig().getCmd()));
            }
        }
        return out;
    }

    @Override
    public String consoleOutput(String uuid, int lines) {
        Cached c = require(uuid);
        StringBuilder out = new StringBuilder();
        try {
            ResultCallback.Adapter<Frame> cb = docker.logContainerCmd(c.id).withStdOut(true).withStdErr(true)
                    .withTail(Math.max(1, lines)).exec(new ResultCallback.Adapter<>() {
                        @Override
                        public void onNext(Frame f) {
                            synchronized (out) {
                                if (out.length() < OUTPUT_CAP) {
                                    out.append(new String(f.getPayload(), StandardCharsets.UTF_8));
                                }
                            }
                        }
                    });
            if (!cb.awaitCompletion(30, TimeUnit.SECONDS)) {
                cb.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted reading the console of " + uuid);
        } catch (IOException | RuntimeException e) {
            throw error("console of " + uuid, e);
        }
        synchronized (out) {
            return out.toString();
        }
    }

    @Override
    public ExecResult exec(String uuid, List<String> argv, Map<String, String> env, Duration timeout) {
        if (argv == null || argv.isEmpty()) {
            throw new InvalidInputException("exec needs a command");
        }
        Cached c = require(uuid);
        List<String> envList = new ArrayList<>();
        (env == null ? Map.<String, String>of() : env).forEach((k, v) -> envList.add(k + "=" + v));
        String execId;
        try {
            execId = docker.execCreateCmd(c.id).withCmd(argv.toArray(String[]::new)).withEnv(envList)
                    .withAttachStdout(true).withAttachStderr(true).exec().getId();
        } catch (RuntimeException e) {
            throw error("exec in " + uuid, e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        boolean timedOut = false;
        try {
            ResultCallback.Adapter<Frame> cb = docker.execStartCmd(execId).exec(new ResultCallback.Adapter<>() {
                @Override
                public void onNext(Frame f) {
                    ByteArrayOutputStream target = switch (f.getStreamType()) {
                        case STDERR -> err;
                        default -> out;
                    };
                    synchronized (target) {
                        if (target.size() < OUTPUT_CAP) {
                            target.writeBytes(f.getPayload());
                        }
                    }
                }
            });
            long millis = timeout == null || timeout.isZero() || timeout.isNegative() ? 3_600_000 : timeout.toMillis();
            if (!cb.awaitCompletion(millis, TimeUnit.MILLISECONDS)) {
                timedOut = true;
                killExec(execId);
                cb.awaitCompletion(5, TimeUnit.SECONDS);
                cb.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            killExec(execId);
            throw new EngineException("interrupted running a command in " + uuid);
        } catch (IOException | RuntimeException e) {
            throw error("exec in " + uuid, e);
        }
        int code = -1;
        for (int i = 0; i < 250; i++) {
            InspectExecResponse r = docker.inspectExecCmd(execId).exec();
            if (!Boolean.TRUE.equals(r.isRunning()) && r.getExitCodeLong() != null) {
                code = r.getExitCodeLong().intValue();
                break;
            }
            sleep(20);
        }
        if (timedOut && code < 0) {
            code = 137;
        }
        String stdout;
        String stderr;
        synchronized (out) {
            stdout = out.toString(StandardCharsets.UTF_8);
        }
        synchronized (err) {
            stderr = err.toString(StandardCharsets.UTF_8);
        }
        return new ExecResult(code, stdout, stderr);
    }

    /** Docker has no call to stop an exec; on a local engine its process is ours to kill. */
    private void killExec(String execId) {
        try {
            Long pid = docker.inspectExecCmd(execId).exec().getPidLong();
            if (engine.settings().local() && pid != null && pid > 0) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
        } catch (RuntimeException e) {
            LOG.fine("cannot kill exec " + execId + ": " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- info, list, diagnostics

    @Override
    public DriverInstance info(String uuid) {
        Cached c = require(uuid);
        return refresh(uuid, c.id);
    }

    @Override
    public List<DriverInstance> list() {
        List<DriverInstance> result = new ArrayList<>();
        for (Cached c : cache.values()) {
            result.add(toInstance(c));
        }
        result.sort(java.util.Comparator.comparing(DriverInstance::uuid));
        return result;
    }

    @Override
    public Diagnostics diagnostics(String uuid) {
        Cached c = require(uuid);
        AtomicReference<Statistics> stats = new AtomicReference<>();
        try {
            ResultCallback.Adapter<Statistics> cb = docker.statsCmd(c.id).withNoStream(true)
                    .exec(new ResultCallback.Adapter<>() {
                        @Override
                        public void onNext(Statistics s) {
                            stats.compareAndSet(null, s);
                        }
                    });
            if (!cb.awaitCompletion(30, TimeUnit.SECONDS)) {
                cb.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted reading statistics of " + uuid);
        } catch (IOException | RuntimeException e) {
            throw error("statistics of " + uuid, e);
        }
        Statistics s = stats.get();
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("container", c.id);
        extra.put("state", c.status);
        long cpu = 0;
        long mem = 0;
        long memLimit = c.memory;
        long pids = 0;
        long pidsLimit = c.pidsLimit;
        if (s != null) {
            if (s.getCpuStats() != null && s.getCpuStats().getCpuUsage() != null
                    && s.getCpuStats().getCpuUsage().getTotalUsage() != null) {
                cpu = s.getCpuStats().getCpuUsage().getTotalUsage();
            }
            if (s.getMemoryStats() != null) {
                mem = s.getMemoryStats().getUsage() == null ? 0 : s.getMemoryStats().getUsage();
                if (s.getMemoryStats().getMaxUsage() != null) {
                    extra.put("memory.max_usage", Long.toString(s.getMemoryStats().getMaxUsage()));
                }
            }
            if (s.getPidsStats() != null && s.getPidsStats().getCurrent() != null) {
                pids = s.getPidsStats().getCurrent();
            }
        }
        extra.put("cpu.shares", Long.toString(c.cpuShares));
        return new Diagnostics(cpu, mem, memLimit, pids, pidsLimit, extra);
    }

    @Override
    public HostResources hostResources() {
        Info info;
        try {
            info = docker.infoCmd().exec();
        } catch (RuntimeException e) {
            throw error("engine info", e);
        }
        long disk = 0;
        long free = 0;
        String root = info.getDockerRootDir();
        if (engine.settings().local() && root != null) {
            try {
                FileStore fs = Files.getFileStore(Path.of(root));
                disk = fs.getTotalSpace();
                free = fs.getUsableSpace();
            } catch (IOException e) {
                LOG.fine("cannot read the disk of " + root + ": " + e.getMessage());
            }
        }
        int vcpus = 0;
        long memory = 0;
        for (Cached c : cache.values()) {
            vcpus += (int) Math.max(1, c.cpuShares / 1024);
            memory += c.memory;
        }
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("engine.version", engine.version());
        extra.put("engine.api.version", engine.apiVersion());
        extra.put("docker.host", engine.settings().host());
        extra.put("docker.root", root == null ? "" : root);
        extra.put("storage.driver", info.getDriver() == null ? "" : info.getDriver());
        extra.put("live.restore", Boolean.toString(engine.liveRestore()));
        extra.put("suspend.mode", suspendMode);
        extra.put("suspend.criu", criuStatus);
        extra.put("scope", options.scope());
        return new HostResources("docker", info.getNCPU() == null ? 0 : info.getNCPU(),
                info.getMemTotal() == null ? 0 : info.getMemTotal(), disk, free, cache.size(), vcpus, memory, extra);
    }

    // ---------------------------------------------------------------- state cache

    /** What the driver remembers of one container between events. */
    private record Cached(String uuid, String id, String status, boolean oomKilled, int exitCode, long pid,
            String imageId, long memory, long cpuShares, long pidsLimit, long seq, long seenMillis) {
    }

    private Cached remember(InspectContainerResponse r, long seq) {
        Map<String, String> labels = r.getConfig() == null || r.getConfig().getLabels() == null ? Map.of()
                : r.getConfig().getLabels();
        String uuid = labels.get(L_INSTANCE);
        if (uuid == null || !options.scope().equals(labels.get(L_SCOPE))) {
            return null;
        }
        InspectContainerResponse.ContainerState st = r.getState();
        HostConfig hc = r.getHostConfig();
        Cached c = new Cached(uuid, r.getId(), st.getStatus() == null ? "unknown" : st.getStatus(),
                Boolean.TRUE.equals(st.getOOMKilled()), st.getExitCodeLong() == null ? -1 : st.getExitCodeLong().intValue(),
                st.getPidLong() == null ? 0 : st.getPidLong(), labels.get(L_IMAGE),
                hc == null || hc.getMemory() == null ? 0 : hc.getMemory(),
                hc == null || hc.getCpuShares() == null ? 0 : hc.getCpuShares(),
                hc == null || hc.getPidsLimit() == null ? 0 : hc.getPidsLimit(), seq, System.currentTimeMillis());
        cache.merge(uuid, c, (old, now) -> now.seq >= old.seq ? now : old);
        return cache.getOrDefault(uuid, c);
    }

    private DriverInstance refresh(String uuid, String id) {
        long seq = sequence.incrementAndGet();
        InspectContainerResponse r;
        try {
            r = docker.inspectContainerCmd(id).exec();
        } catch (com.github.dockerjava.api.exception.NotFoundException e) {
            cache.remove(uuid);
            throw new NotFoundException("instance " + uuid + " has no docker container");
        } catch (RuntimeException e) {
            throw error("inspect " + uuid, e);
        }
        Cached c = remember(r, seq);
        if (c == null) {
            throw new NotFoundException("instance " + uuid + " has no docker container in scope " + options.scope());
        }
        return toInstance(c);
    }

    private DriverInstance toInstance(Cached c) {
        return new DriverInstance(c.uuid, c.id, powerState(c), "running".equals(c.status) || "paused".equals(c.status)
                ? c.pid : 0, "exited".equals(c.status) || "dead".equals(c.status) ? c.exitCode : -1, c.imageId);
    }

    PowerState powerState(Cached c) {
        return powerState(c.status, c.exitCode, c.oomKilled, marks.has(c.uuid, DriverMarks.STOPPED),
                marks.has(c.uuid, DriverMarks.SUSPENDED));
    }

    /**
     * The driver contract's mapping. An exit is a crash only if Berth did not ask for the stop: any stop ends
     * with a non-zero code (143 or 137), so the code alone cannot tell.
     */
    static PowerState powerState(String status, int exitCode, boolean oomKilled, boolean stopRequested,
            boolean suspended) {
        return switch (status) {
            case "running" -> suspended ? PowerState.SUSPENDED : PowerState.RUNNING;
            case "paused" -> suspended ? PowerState.SUSPENDED : PowerState.PAUSED;
            case "created" -> PowerState.SHUTDOWN;
            case "exited" -> stopRequested ? PowerState.SHUTDOWN
                    : oomKilled || exitCode != 0 ? PowerState.CRASHED : PowerState.SHUTDOWN;
            case "dead" -> PowerState.CRASHED;
            default -> PowerState.NOSTATE;
        };
    }

    private Cached require(String uuid) {
        checkUuid(uuid);
        Cached c = cache.get(uuid);
        if (c != null) {
            return c;
        }
        Optional<InspectContainerResponse> r = findContainer(containerName(uuid));
        if (r.isPresent()) {
            Cached fresh = remember(r.get(), sequence.incrementAndGet());
            if (fresh != null) {
                return fresh;
            }
        }
        throw new NotFoundException("instance " + uuid + " has no docker container");
    }

    private Optional<InspectContainerResponse> findContainer(String nameOrId) {
        try {
            return Optional.of(docker.inspectContainerCmd(nameOrId).exec());
        } catch (com.github.dockerjava.api.exception.NotFoundException e) {
            return Optional.empty();
        } catch (RuntimeException e) {
            throw error("inspect " + nameOrId, e);
        }
    }

    private InspectContainerResponse inspect(String id) {
        return findContainer(id).orElseThrow(() -> new NotFoundException("container " + id + " is gone"));
    }

    private void resync() {
        long seq = sequence.incrementAndGet();
        List<Container> containers = docker.listContainersCmd().withShowAll(true)
                .withLabelFilter(Map.of(L_SCOPE, options.scope())).exec();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        for (Container ct : containers) {
            findContainer(ct.getId()).map(r -> remember(r, seq)).ifPresent(c -> seen.add(c.uuid));
        }
        cache.entrySet().removeIf(e -> !seen.contains(e.getKey()) && e.getValue().seq < seq);
        // marks of containers removed while no driver watched (docker rm by hand) would never be cleared
        marks.retainOnly(seen, cache.keySet());
    }

    private void followEvents() {
        while (!closed) {
            CountDownLatchCallback cb = new CountDownLatchCallback();
            try {
                docker.eventsCmd().withEventTypeFilter(EventType.CONTAINER)
                        .withLabelFilter(Map.of(L_SCOPE, options.scope())).exec(cb);
                eventStream.set(cb);
                if (closed) {
                    cb.close();
                    return;
                }
                // events that happened while the stream was being opened are caught by the listing after it
                resync();
                cb.done.await();
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.fine("docker events: " + e.getMessage());
                }
            } finally {
                try {
                    cb.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
            if (!closed) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private final class CountDownLatchCallback extends ResultCallback.Adapter<Event> {
        final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);

        @Override
        public void onNext(Event e) {
            if (e.getActor() == null || e.getActor().getAttributes() == null) {
                return;
            }
            String uuid = e.getActor().getAttributes().get(L_INSTANCE);
            String id = e.getActor().getId();
            if (uuid == null || id == null) {
                return;
            }
            String action = e.getAction() == null ? "" : e.getAction();
            if (!STATE_EVENTS.contains(action)) {
                return; // exec_*, create, attach, commit ... change no power state
            }
            Cached known = cache.get(uuid);
            Long when = e.getTimeNano() != null ? Long.valueOf(e.getTimeNano() / 1_000_000)
                    : e.getTime() != null ? Long.valueOf(e.getTime() * 1000) : null;
            // the driver inspected it after this event, on its own call (same clock only on a local engine)
            if (known != null && known.id.equals(id) && when != null && known.seenMillis > when
                    && engine.settings().local() && !"destroy".equals(action)) {
                return;
            }
            long seq = sequence.incrementAndGet();
            if ("destroy".equals(action)) {
                cache.computeIfPresent(uuid, (k, old) -> old.id.equals(id) && old.seq < seq ? null : old);
                return;
            }
            try {
                findContainer(id).ifPresent(r -> remember(r, seq));
            } catch (RuntimeException ex) {
                LOG.fine("docker event for " + uuid + ": " + ex.getMessage());
            }
        }

        @Override
        public void onError(Throwable t) {
            done.countDown();
        }

        @Override
        public void onComplete() {
            done.countDown();
        }
    }

    // ---------------------------------------------------------------- helpers

    private static String checkUuid(String uuid) {
        if (uuid == null || !SAFE.matcher(uuid).matches()) {
            throw new InvalidInputException("invalid instance uuid '" + uuid + "'");
        }
        return uuid;
    }

    private static int seconds(Duration d) {
        if (d == null) {
            return 10;
        }
        return (int) Math.max(0, Math.min(Integer.MAX_VALUE, (d.toMillis() + 999) / 1000));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted");
        }
    }

    private static String message(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        Matcher j = MESSAGE.matcher(m);
        if (j.find()) {
            m = j.group(1).replace("\\\"", "\"");
        }
        return m.strip().replaceAll("\\s+", " ");
    }

    /** Maps a docker-java failure to the driver contract's exceptions, with one line of reason. */
    private RuntimeException error(String what, Throwable e) {
        if (e instanceof BerthException be) {
            return be;
        }
        String m = message(e);
        if (e instanceof com.github.dockerjava.api.exception.NotFoundException) {
            return new NotFoundException(what + ": " + m);
        }
        if (e instanceof com.github.dockerjava.api.exception.ConflictException) {
            return new ConflictException(what + ": " + m);
        }
        if (e instanceof com.github.dockerjava.api.exception.BadRequestException) {
            return new InvalidInputException(what + ": " + m);
        }
        if (e instanceof DockerException de && de.getHttpStatus() == 409) {
            return new ConflictException(what + ": " + m);
        }
        if (e instanceof DockerException || e instanceof IOException) {
            return new EngineException(what + ": " + m, e);
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root instanceof IOException) {
            return new EngineException(what + ": docker engine " + engine.settings().host() + " does not answer ("
                    + message(root) + ")", e);
        }
        return new EngineException(what + ": " + m, e);
    }

    private static String criuCheck() {
        Path criu = Path.of("/usr/sbin/criu");
        if (!Files.isExecutable(criu)) {
            return "not installed";
        }
        try {
            Process p = new ProcessBuilder(criu.toString(), "check").redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readNBytes(4096);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "criu check timed out";
            }
            if (p.exitValue() == 0) {
                return "criu check passed, but checkpoints need an experimental dockerd; using the freezer";
            }
            String first = new String(out, StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank())
                    .reduce((a, b) -> b).orElse("").strip();
            return "criu check failed" + (first.isEmpty() ? "" : ": " + first);
        } catch (IOException e) {
            return "criu check could not run: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "criu check interrupted";
        }
    }

    /** For tests: the labels a container of this driver carries. */
    Map<String, String> scopeFilter() {
        return new HashMap<>(Map.of(L_SCOPE, options.scope()));
    }
}
