package berth.runtime.internal.compute;

import berth.driver.api.BackendStatus;
import berth.driver.api.BackendUnavailableException;
import berth.driver.api.BerthException;
import berth.driver.api.BootRequest;
import berth.driver.api.ComputeService;
import berth.driver.api.ConflictException;
import berth.driver.api.Diagnostics;
import berth.driver.api.EngineException;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.HostResources;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.Instance;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.ProgressListener;
import berth.driver.api.RebootType;
import berth.driver.api.TaskState;
import berth.driver.api.Vif;
import berth.driver.api.VmState;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.ImageSource;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.NetworkProvider;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import berth.runtime.internal.compute.Entries.DriverEntry;
import berth.runtime.internal.compute.Entries.SourceEntry;
import berth.runtime.internal.registry.InstanceRecord;
import berth.runtime.internal.registry.InstanceRecord.Cleanup;
import berth.runtime.internal.registry.InstanceRegistry;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Dictionary;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The compute manager (Nova's compute-manager role): validates requests, serialises operations per instance,
 * picks the backend, composes image source, driver and network provider, records every state change in the
 * durable {@link InstanceRegistry} and rolls back what a failed operation did.
 *
 * <p><b>Locking.</b> Every operation that changes an instance holds that instance's lock for its whole run and
 * sets a task state. A second change on the same instance does not wait: it fails at once with
 * {@code ConflictException("instance X is busy (task)")}, as Nova rejects an action while a task is in progress.
 * Operations on different instances run in parallel. Reads (list, show, console, exec, diagnostics) take no lock
 * and change no record.
 *
 * <p><b>Networks.</b> A boot with no networks and no ports gets no network (as {@link BootRequest} says); the
 * network name {@code default} stands for the configured default network. Start, hard reboot, soft reboot,
 * resume from a checkpoint and migrate re-plug every VIF, because a new init pid is a new namespace.
 *
 * <p><b>Start-up.</b> An instance found BUILDING is rolled back (container destroyed, VIFs and image released, as
 * soon as their owners are present) and left in ERROR "interrupted during spawning"; one found DELETING is deleted
 * to the end; one found in another task keeps its container and VIFs and is left in ERROR "interrupted during
 * &lt;task&gt;" (a hard reboot or stop/start repairs it). Whenever a driver binds its backend is reconciled with
 * the registry.
 */
@Component(service = {ComputeService.class, ComputeAdmin.class}, configurationPid = ComputeManager.PID,
        immediate = true)
@Designate(ocd = ComputeManager.Config.class)
public final class ComputeManager implements ComputeService, ComputeAdmin {

    /** Configuration PID. */
    public static final String PID = "berth.compute";
    /** Fault of an instance its engine no longer holds. */
    public static final String MISSING = "missing in engine";

    private static final System.Logger LOG = System.getLogger(ComputeManager.class.getName());
    private static final Pattern NETWORK_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,254}");
    private static final Duration DEFAULT_EXEC_TIMEOUT = Duration.ofSeconds(60);

    @ObjectClassDefinition(name = "Berth compute manager",
            description = "Backend choice, default network, stop timeout and extra flavors of the compute manager.")
    public @interface Config {
        @AttributeDefinition(name = "Preferred backend",
                description = "Backend new boots use by default when it is present; empty: highest ranking decides.")
        String preferredBackend() default "";

        @AttributeDefinition(name = "Default network",
                description = "The network a boot gets when it asks for the network 'default'.")
        String defaultNetwork() default "default";

        @AttributeDefinition(name = "Stop timeout (s)",
                description = "How long a stop or soft reboot waits for the workload before killing it.")
        int stopTimeoutSeconds() default 10;

        @AttributeDefinition(name = "Power-state sync (s)",
                description = "How often every present backend is reconciled with the registry, as Nova's "
                        + "power-state sync; 0 turns it off (binding a driver always reconciles).")
        int powerSyncSeconds() default 60;

        @AttributeDefinition(name = "Extra flavors",
                description = "More flavors as name:memMB:vcpus[:pids]; a shipped name is replaced.")
        String[] extraFlavors() default {};

        @AttributeDefinition(name = "State directory",
                description = "Overrides the berth.state.dir property; empty: the property, else /var/lib/berth.")
        String stateDir() default "";
    }

    /**
     * The settings in force, replaced as a whole when the configuration changes.
     *
     * @param preferredBackend preferred backend, empty for none
     * @param defaultNetwork   the network {@code default} stands for
     * @param stopTimeout      grace period of stops and soft reboots
     * @param flavors          the flavor catalogue
     */
    public record Settings(String preferredBackend, String defaultNetwork, Duration stopTimeout, Flavors flavors) {
        public Settings {
            preferredBackend = preferredBackend == null ? "" : preferredBackend.trim();
            defaultNetwork = defaultNetwork == null || defaultNetwork.isBlank() ? "default" : defaultNetwork.trim();
            Objects.requireNonNull(stopTimeout, "stopTimeout");
            Objects.requireNonNull(flavors, "flavors");
            if (!preferredBackend.isEmpty() && !Names.BACKEND.matcher(preferredBackend).matches()) {
                throw new IllegalArgumentException("invalid preferred backend " + Names.show(preferredBackend));
            }
            if (!NETWORK_NAME.matcher(defaultNetwork).matches()) {
                throw new IllegalArgumentException("invalid default network " + Names.show(defaultNetwork));
            }
            if (stopTimeout.isNegative()) {
                throw new IllegalArgumentException("stop timeout must not be negative");
            }
        }

        /** @return the shipped defaults */
        public static Settings defaults() {
            return new Settings("", "default", Duration.ofSeconds(10), Flavors.of(null));
        }

        /**
         * @param c configuration
         * @return its settings
         * @throws IllegalArgumentException when it is invalid
         */
        public static Settings of(Config c) {
            return new Settings(c.preferredBackend(), c.defaultNetwork(),
                    Duration.ofSeconds(Math.max(0, c.stopTimeoutSeconds())), Flavors.of(c.extraFlavors()));
        }

        Settings withPreferred(String backend) {
            return new Settings(backend, defaultNetwork, stopTimeout, flavors);
        }
    }

    /** Backend name, last ranking and bundle version of a driver once seen, for {@link #backends()}. */
    private record Seen(int ranking, String bundleVersion, String engineVersion) {
    }

    /** An operation's work, run under the instance lock with its task state set. */
    @FunctionalInterface
    private interface Work {
        InstanceRecord run(InstanceRecord r, DriverEntry d);
    }

    /** A failure after which the instance cannot be trusted to be in its old state: it is left in ERROR. */
    private static final class LeftInError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LeftInError(RuntimeException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private final InstanceRegistry registry;
    private final Executor background;
    private final Object bindLock = new Object();
    private final Object nameLock = new Object();
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    private final Map<String, Seen> seen = new ConcurrentHashMap<>();
    /* backend name -> symbolic name of the bundle that last served it, to find the deployer's refusals */
    private final Map<String, String> bundleNames = new ConcurrentHashMap<>();
    private final Map<String, ReconcileReport> reports = new ConcurrentHashMap<>();
    private volatile Settings settings;
    private volatile List<DriverEntry> drivers = List.of();
    private volatile List<SourceEntry> sources = List.of();
    private volatile NetworkProvider network;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ConfigurationAdmin configAdmin;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile berth.runtime.internal.deploy.Deployments deployments;

    /**
     * Activated by DS: state below {@code berth.state.dir} (the configuration's stateDir wins), background work
     * (reconciles) on one daemon thread.
     *
     * @param context bundle context, for the framework properties
     * @param config  configuration
     */
    @Activate
    public ComputeManager(BundleContext context, Config config) {
        this(stateDir(context, config), Settings.of(config), Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-compute-reconcile");
            t.setDaemon(true);
            return t;
        }));
        int every = config.powerSyncSeconds();
        if (every > 0 && background instanceof ScheduledExecutorService ses) {
            ses.scheduleWithFixedDelay(this::periodicSync, every, every, TimeUnit.SECONDS);
        }
    }

    private void periodicSync() {
        try {
            Set<String> done = new TreeSet<>();
            for (DriverEntry d : drivers) {
                if (done.add(d.name())) {
                    reconcileBackend(d.name(), true);
                }
            }
            retryCleanups();
        } catch (RuntimeException e) {
            // a failing round must not cancel the schedule
            LOG.log(Level.WARNING, "power-state sync failed: " + e);
        }
    }

    /**
     * For tests and embedding: services are added with {@link #addDriver} and the like.
     *
     * @param stateDir   state directory; records go to {@code stateDir/registry}
     * @param settings   settings
     * @param background runs reconciles and clean-ups; a direct executor makes them synchronous
     */
    public ComputeManager(Path stateDir, Settings settings, Executor background) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.background = Objects.requireNonNull(background, "background");
        this.registry = new InstanceRegistry(stateDir.resolve("registry"));
        for (String p : registry.problems()) {
            LOG.log(Level.WARNING, p);
        }
        recoverInterrupted();
    }

    private static Path stateDir(BundleContext context, Config config) {
        String dir = config.stateDir();
        if (dir == null || dir.isBlank()) {
            dir = context.getProperty("berth.state.dir");
        }
        return Path.of(dir == null || dir.isBlank() ? "/var/lib/berth" : dir.trim());
    }

    @Modified
    void modified(Config config) {
        try {
            settings = Settings.of(config);
        } catch (IllegalArgumentException e) {
            LOG.log(Level.ERROR, "configuration " + PID + " refused, keeping the previous one: " + e.getMessage());
        }
    }

    @Deactivate
    void close() {
        if (background instanceof ExecutorService es) {
            es.shutdownNow();
            try {
                es.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- service binding

    @Reference(name = "driver", service = ComputeDriver.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindDriver")
    void bindDriver(ComputeDriver driver, ServiceReference<ComputeDriver> ref) {
        Object name = ref.getProperty(ComputeDriver.BACKEND);
        Bundle b = ref.getBundle();
        String backend = name == null ? driver.name() : name.toString();
        if (b != null) {
            bundleNames.put(backend, b.getSymbolicName());
        }
        addDriver(driver, backend, ranking(ref), serviceId(ref), b == null ? null : b.getVersion().toString());
    }

    void unbindDriver(ComputeDriver driver, ServiceReference<ComputeDriver> ref) {
        removeDriver(serviceId(ref));
    }

    @Reference(name = "imageSource", service = ImageSource.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY,
            unbind = "unbindImageSource")
    void bindImageSource(ImageSource source, ServiceReference<ImageSource> ref) {
        Object name = ref.getProperty(ImageSource.SOURCE);
        addImageSource(source, name == null ? source.name() : name.toString(), ranking(ref), serviceId(ref));
    }

    void unbindImageSource(ImageSource source, ServiceReference<ImageSource> ref) {
        removeImageSource(serviceId(ref));
    }

    @Reference(name = "network", service = NetworkProvider.class, cardinality = ReferenceCardinality.OPTIONAL,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindNetwork")
    void bindNetwork(NetworkProvider provider) {
        setNetwork(provider);
    }

    void unbindNetwork(NetworkProvider provider) {
        removeNetwork(provider);
    }

    private static int ranking(ServiceReference<?> ref) {
        return ref.getProperty(Constants.SERVICE_RANKING) instanceof Integer i ? i : 0;
    }

    private static long serviceId(ServiceReference<?> ref) {
        return ref.getProperty(Constants.SERVICE_ID) instanceof Long l ? l : 0L;
    }

    /**
     * Adds a driver and reconciles its backend in the background.
     *
     * @param driver        the driver
     * @param backend       its backend name
     * @param ranking       its ranking
     * @param serviceId     a key unique among drivers
     * @param bundleVersion version of its bundle, or {@code null}
     */
    public void addDriver(ComputeDriver driver, String backend, int ranking, long serviceId, String bundleVersion) {
        synchronized (bindLock) {
            List<DriverEntry> l = new ArrayList<>(drivers);
            l.removeIf(e -> e.serviceId() == serviceId);
            l.add(new DriverEntry(driver, backend, ranking, serviceId, bundleVersion));
            l.sort(Entries.DRIVER_ORDER);
            drivers = List.copyOf(l);
            Seen old = seen.get(backend);
            seen.put(backend, new Seen(ranking, bundleVersion, old == null ? null : old.engineVersion()));
        }
        LOG.log(Level.INFO, "backend {0} present (ranking {1})", backend, ranking);
        background.execute(() -> {
            reconcileBackend(backend, false);
            retryCleanups();
        });
    }

    /** @param serviceId the key given to {@link #addDriver} */
    public void removeDriver(long serviceId) {
        synchronized (bindLock) {
            List<DriverEntry> l = new ArrayList<>(drivers);
            l.stream().filter(e -> e.serviceId() == serviceId).findFirst()
                    .ifPresent(e -> LOG.log(Level.INFO, "backend {0} driver {1} gone", e.name(), serviceId));
            l.removeIf(e -> e.serviceId() == serviceId);
            drivers = List.copyOf(l);
        }
    }

    /**
     * @param source    image source
     * @param name      its name
     * @param ranking   its ranking
     * @param serviceId a key unique among image sources
     */
    public void addImageSource(ImageSource source, String name, int ranking, long serviceId) {
        synchronized (bindLock) {
            List<SourceEntry> l = new ArrayList<>(sources);
            l.removeIf(e -> e.serviceId() == serviceId);
            l.add(new SourceEntry(source, name, ranking, serviceId));
            l.sort(Entries.SOURCE_ORDER);
            sources = List.copyOf(l);
        }
        background.execute(this::retryCleanups);
    }

    /** @param serviceId the key given to {@link #addImageSource} */
    public void removeImageSource(long serviceId) {
        synchronized (bindLock) {
            List<SourceEntry> l = new ArrayList<>(sources);
            l.removeIf(e -> e.serviceId() == serviceId);
            sources = List.copyOf(l);
        }
    }

    /** @param provider the network provider now in force */
    public void setNetwork(NetworkProvider provider) {
        synchronized (bindLock) {
            network = provider;
        }
        background.execute(this::retryCleanups);
        background.execute(() -> reconcileNetwork(provider));
    }

    /* Addresses of instances that no longer exist are freed; stray host ends are reported (net:strays removes). */
    private void reconcileNetwork(NetworkProvider provider) {
        try {
            List<String> live = registry.live().stream().map(InstanceRecord::uuid).toList();
            List<Vif> freed = provider.releaseOrphans(live);
            if (!freed.isEmpty()) {
                LOG.log(Level.INFO, "released {0} VIF(s) of instances that no longer exist: {1}", freed.size(),
                        freed.stream().map(v -> v.address()).toList());
            }
            List<String> strays = provider.strays();
            if (!strays.isEmpty()) {
                LOG.log(Level.WARNING, "stray host ends that belong to no instance: {0}", strays);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "network reconcile failed: {0}", e.getMessage());
        }
    }

    /** @param provider the provider leaving; ignored when another one already replaced it */
    public void removeNetwork(NetworkProvider provider) {
        synchronized (bindLock) {
            if (network == provider) {
                network = null;
            }
        }
    }

    private Optional<DriverEntry> driver(String backend) {
        for (DriverEntry e : drivers) {
            if (e.name().equals(backend)) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    private DriverEntry presentDriver(InstanceRecord r) {
        return driver(r.backend()).orElseThrow(() -> new BackendUnavailableException(r.backend()));
    }

    private Optional<SourceEntry> source(String name) {
        for (SourceEntry e : sources) {
            if (e.name().equals(name)) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    private boolean knownBackend(String name) {
        return seen.containsKey(name) || name.equals(settings.preferredBackend())
                || registry.live().stream().anyMatch(r -> r.backend().equals(name));
    }

    private Set<String> knownBackends() {
        Set<String> names = new TreeSet<>(seen.keySet());
        for (InstanceRecord r : registry.live()) {
            names.add(r.backend());
        }
        if (!settings.preferredBackend().isEmpty()) {
            names.add(settings.preferredBackend());
        }
        return names;
    }

    // ---------------------------------------------------------------- start-up recovery

    private void recoverInterrupted() {
        for (InstanceRecord r : registry.all()) {
            if (r.vmState() == VmState.BUILDING) {
                InstanceRecord.Builder b = r.edit().vmState(VmState.ERROR).taskState(null)
                        .powerState(PowerState.NOSTATE)
                        .fault("interrupted during " + (r.taskState() == null ? "build" : r.taskState().label()))
                        .addCleanup(Cleanup.CONTAINER).addCleanup(Cleanup.IMAGE);
                if (!r.vifs().isEmpty()) {
                    b.addCleanup(Cleanup.VIFS);
                }
                registry.put(b.build());
                LOG.log(Level.WARNING, "instance {0} was interrupted during its build: rolled back, ERROR", r.name());
            } else if (r.taskState() == TaskState.DELETING) {
                InstanceRecord.Builder b = r.edit().vmState(VmState.DELETED).taskState(null)
                        .powerState(PowerState.NOSTATE).addCleanup(Cleanup.CONTAINER).addCleanup(Cleanup.IMAGE);
                if (!r.vifs().isEmpty()) {
                    b.addCleanup(Cleanup.VIFS);
                }
                registry.put(b.build());
                LOG.log(Level.WARNING, "instance {0} was interrupted while being deleted: finishing", r.name());
            } else if (r.taskState() != null) {
                registry.put(r.edit().vmState(VmState.ERROR).taskState(null)
                        .fault("interrupted during " + r.taskState().label()).build());
                LOG.log(Level.WARNING, "instance {0} was interrupted during {1}: ERROR", r.name(),
                        r.taskState().label());
            }
        }
    }

    // ---------------------------------------------------------------- locking and the operation frame

    private ReentrantLock lockOf(String uuid) {
        return locks.computeIfAbsent(uuid, k -> new ReentrantLock());
    }

    private static ConflictException busy(InstanceRecord r) {
        return new ConflictException("instance " + r.name() + " is busy ("
                + (r.taskState() == null ? "another operation" : r.taskState().label()) + ")");
    }

    private InstanceRecord resolve(String ref) {
        if (ref == null || ref.isBlank()) {
            throw new InvalidInputException("no instance given");
        }
        String s = ref.trim();
        if (Names.UUID.matcher(s).matches()) {
            Optional<InstanceRecord> r = registry.get(s.toLowerCase(Locale.ROOT));
            if (r.isPresent() && r.get().vmState() != VmState.DELETED) {
                return r.get();
            }
        }
        List<InstanceRecord> named = registry.live().stream().filter(r -> r.name().equalsIgnoreCase(s)).toList();
        if (named.size() == 1) {
            return named.get(0);
        }
        if (named.isEmpty()) {
            throw new NotFoundException("no instance " + Names.show(s));
        }
        throw new ConflictException("several instances are named " + Names.show(s) + "; use the uuid");
    }

    private InstanceRecord current(String uuid) {
        InstanceRecord r = registry.get(uuid).orElseThrow(() -> new NotFoundException("no instance " + uuid));
        if (r.vmState() == VmState.DELETED) {
            throw new NotFoundException("no instance " + uuid);
        }
        return r;
    }

    /**
     * Runs {@code work} on one instance: its lock held, the backend present, the vm state one of {@code from},
     * the task state set durably for the duration. On failure the task state is cleared, the fault recorded, the
     * power state re-read, and the vm state kept unless the work or {@code errorOnFailure} says otherwise.
     */
    private InstanceRecord operate(String ref, String verb, TaskState task, Set<VmState> from,
            boolean needBackend, boolean errorOnFailure, Work work) {
        InstanceRecord r = resolve(ref);
        ReentrantLock lock = lockOf(r.uuid());
        if (!lock.tryLock()) {
            throw busy(registry.get(r.uuid()).orElse(r));
        }
        try {
            r = current(r.uuid());
            if (r.taskState() != null) {
                throw busy(r);
            }
            DriverEntry d = needBackend ? presentDriver(r) : driver(r.backend()).orElse(null);
            if (!from.contains(r.vmState())) {
                throw new ConflictException("cannot " + verb + " instance " + r.name() + " while it is "
                        + r.vmState().label());
            }
            InstanceRecord working = registry.put(r.edit().taskState(task).build());
            try {
                InstanceRecord done = work.run(working, d);
                return registry.put(done.edit().taskState(null).fault(null).build());
            } catch (RuntimeException e) {
                BerthException failure = asBerth(e instanceof LeftInError ? (RuntimeException) e.getCause() : e,
                        verb, r);
                InstanceRecord latest = registry.get(r.uuid()).orElse(working);
                InstanceRecord.Builder b = latest.edit().taskState(null).fault(oneLine(failure.getMessage()));
                if (d != null) {
                    try {
                        b.powerState(effective(latest, d.driver().info(r.uuid()).powerState()));
                    } catch (RuntimeException ignored) {
                        // the engine cannot tell: keep the last power state seen
                    }
                }
                if (errorOnFailure || e instanceof LeftInError) {
                    b.vmState(VmState.ERROR);
                }
                saveQuietly(b.build());
                LOG.log(Level.WARNING, "{0} of instance {1} failed: {2}", verb, r.name(), failure.getMessage());
                throw failure;
            }
        } finally {
            lock.unlock();
        }
    }

    private void saveQuietly(InstanceRecord r) {
        try {
            registry.put(r);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "cannot record instance " + r.name() + ": " + e.getMessage());
        }
    }

    private static BerthException asBerth(RuntimeException e, String verb, InstanceRecord r) {
        if (e instanceof BerthException be) {
            return be;
        }
        return new EngineException(verb + " of instance " + r.name() + " failed: " + oneLine(String.valueOf(
                e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())), e);
    }

    static String oneLine(String s) {
        if (s == null) {
            return null;
        }
        String line = s.replaceAll("[\\r\\n\\t]+", " ").trim();
        return line.length() > 500 ? line.substring(0, 500) + "..." : line;
    }

    /** A stop Berth asked for is SHUTDOWN whatever the workload's exit status made the engine say. */
    static PowerState effective(InstanceRecord r, PowerState reported) {
        return reported == PowerState.CRASHED && r.stopRequested() ? PowerState.SHUTDOWN : reported;
    }

    private NetworkProvider networkFor(InstanceRecord r) {
        NetworkProvider np = network;
        if (np == null && !r.vifs().isEmpty()) {
            throw new EngineException("instance " + r.name() + " has network interfaces and no network provider"
                    + " is present");
        }
        return np;
    }

    /** Plugs every VIF into the new namespace; on failure unplugs those done and leaves the instance in ERROR. */
    private void plugAll(InstanceRecord r, NetworkProvider np, long initPid) {
        if (r.vifs().isEmpty()) {
            return;
        }
        if (initPid <= 0) {
            throw new LeftInError(new EngineException("instance " + r.name()
                    + " has no init process to plug its network into"));
        }
        List<Vif> done = new ArrayList<>();
        try {
            for (Vif v : r.vifs()) {
                np.plug(v, initPid);
                done.add(v);
            }
        } catch (RuntimeException e) {
            for (Vif v : done) {
                unplugQuietly(np, v);
            }
            throw new LeftInError(e);
        }
    }

    private static void unplugQuietly(NetworkProvider np, Vif v) {
        try {
            np.unplug(v);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot unplug VIF {0}: {1}", v.id(), e.getMessage());
        }
    }

    // ---------------------------------------------------------------- boot

    @Override
    public Instance boot(BootRequest request, ProgressListener progress) {
        Objects.requireNonNull(request, "request");
        ProgressListener listener = progress == null ? ProgressListener.NONE : progress;
        Settings s = settings;
        String name = Names.checkInstanceName(request.name());
        Flavor flavor = s.flavors().get(request.flavor());
        checkMetadata(request.metadata());
        List<String> networks = new ArrayList<>();
        for (String n : request.networks()) {
            if (n == null || !NETWORK_NAME.matcher(n).matches()) {
                throw new InvalidInputException("invalid network name " + Names.show(n));
            }
            networks.add("default".equals(n) ? s.defaultNetwork() : n);
        }
        NetworkProvider np = network;
        if ((!networks.isEmpty() || !request.ports().isEmpty()) && np == null) {
            throw new EngineException("networks were asked for and no network provider is present");
        }
        String imageRef = request.image().trim();
        if (imageRef.isEmpty() || imageRef.length() > 255 || imageRef.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new InvalidInputException("invalid image reference " + Names.show(request.image()));
        }
        for (String w : request.command()) {
            if (w == null || w.indexOf('\0') >= 0) {
                throw new InvalidInputException("command words must not contain NUL");
            }
        }
        DriverEntry d = pickDriver(request.backend(), s);
        Resolved image = resolveImage(imageRef, d);
        List<String> command = !request.command().isEmpty() ? request.command()
                : CommandLine.split(image.info().properties().get(ImageInfo.COMMAND_LINE));

        String uuid = UUID.randomUUID().toString();
        ReentrantLock lock = lockOf(uuid);
        lock.lock();
        try {
            InstanceRecord r;
            synchronized (nameLock) {
                if (registry.live().stream().anyMatch(x -> x.name().equalsIgnoreCase(name))) {
                    throw new ConflictException("instance name " + Names.show(name) + " is in use");
                }
                r = registry.put(InstanceRecord.builder().uuid(uuid).name(name).flavor(flavor.name())
                        .imageId(image.info().id()).imageSource(image.source().name()).backend(d.name())
                        .vmState(VmState.BUILDING).taskState(TaskState.SPAWNING).powerState(PowerState.NOSTATE)
                        .metadata(request.metadata()).command(request.command()).build());
            }
            return spawn(r, d, image, flavor, networks, request, command, np, listener).toInstance();
        } finally {
            lock.unlock();
        }
    }

    private record Undo(String what, Cleanup leftover, Runnable action) {
    }

    private InstanceRecord spawn(InstanceRecord r, DriverEntry d, Resolved image, Flavor flavor,
            List<String> networks, BootRequest request, List<String> command, NetworkProvider np,
            ProgressListener progress) {
        Deque<Undo> undo = new ArrayDeque<>();
        List<Vif> vifs = new ArrayList<>();
        String uuid = r.uuid();
        ImageSource src = image.source().source();
        String imageId = image.info().id();
        try {
            LocalImage local = src.acquire(imageId, uuid, progress);
            undo.push(new Undo("release image", Cleanup.IMAGE, () -> src.release(imageId, uuid)));
            int dev = 0;
            for (String net : networks) {
                Vif v = np.allocate(net, uuid, "eth" + dev++);
                vifs.add(v);
                undo.push(new Undo("release VIF " + v.id(), Cleanup.VIFS, () -> np.release(v)));
            }
            for (Vif port : request.ports()) {
                Vif v = np.adopt(port.withDevice("eth" + dev++), uuid);
                vifs.add(v);
                undo.push(new Undo("release VIF " + v.id(), Cleanup.VIFS, () -> np.release(v)));
            }
            if (!vifs.isEmpty()) {
                // durable before the engine is touched: a crash from here on knows which addresses to free
                r = registry.put(r.edit().vifs(vifs).build());
            }
            // destroy is harmless for a uuid the engine does not know, and catches a spawn that half-happened
            undo.push(new Undo("destroy container", Cleanup.CONTAINER, () -> d.driver().destroy(uuid)));
            DriverInstance di = d.driver().spawn(new SpawnSpec(uuid, r.name(), flavor, local, request.metadata(),
                    command));
            if (!vifs.isEmpty() && di.initPid() <= 0) {
                throw new EngineException("instance " + r.name() + " has no init process to plug its network into");
            }
            for (Vif v : vifs) {
                undo.push(new Undo("unplug VIF " + v.id(), null, () -> np.unplug(v)));
                np.plug(v, di.initPid());
            }
            return registry.put(r.edit().vmState(VmState.ACTIVE).taskState(null).fault(null)
                    .powerState(di.powerState()).initPid(di.initPid()).stopRequested(false).build());
        } catch (RuntimeException e) {
            BerthException failure = asBerth(e, "boot", r);
            Set<Cleanup> leftovers = EnumSet.noneOf(Cleanup.class);
            while (!undo.isEmpty()) {
                Undo u = undo.pop();
                try {
                    u.action().run();
                } catch (RuntimeException ue) {
                    LOG.log(Level.WARNING, "rollback of {0}: cannot {1}: {2}", r.name(), u.what(), ue.getMessage());
                    if (u.leftover() != null) {
                        leftovers.add(u.leftover());
                    }
                }
            }
            InstanceRecord.Builder b = r.edit().vmState(VmState.ERROR).taskState(null).powerState(PowerState.NOSTATE)
                    .initPid(0).fault(oneLine(failure.getMessage())).vifs(leftovers.contains(Cleanup.VIFS) ? vifs
                            : List.of());
            leftovers.forEach(b::addCleanup);
            saveQuietly(b.build());
            LOG.log(Level.WARNING, "boot of {0} failed and was rolled back: {1}", r.name(), failure.getMessage());
            throw failure;
        }
    }

    private static void checkMetadata(Map<String, String> metadata) {
        if (metadata.size() > 128) {
            throw new InvalidInputException("at most 128 metadata entries");
        }
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (!ENV_NAME.matcher(e.getKey()).matches()) {
                throw new InvalidInputException("invalid metadata key " + Names.show(e.getKey())
                        + ": it becomes an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
            }
            String v = e.getValue();
            if (v == null || v.length() > 4096 || v.indexOf('\0') >= 0) {
                throw new InvalidInputException("invalid metadata value for " + e.getKey()
                        + ": at most 4096 characters, no NUL");
            }
        }
    }

    private DriverEntry pickDriver(String requested, Settings s) {
        if (requested != null && !requested.isBlank()) {
            String name = requested.trim();
            if (!Names.BACKEND.matcher(name).matches()) {
                throw new InvalidInputException("invalid backend name " + Names.show(requested));
            }
            Optional<DriverEntry> e = driver(name);
            if (e.isPresent()) {
                return e.get();
            }
            if (knownBackend(name)) {
                throw new BackendUnavailableException(name);
            }
            throw new InvalidInputException("unknown backend " + Names.show(name) + " (known: "
                    + String.join(", ", knownBackends()) + ")");
        }
        if (!s.preferredBackend().isEmpty()) {
            Optional<DriverEntry> e = driver(s.preferredBackend());
            if (e.isPresent()) {
                return e.get();
            }
        }
        List<DriverEntry> present = drivers;
        if (present.isEmpty()) {
            throw new BackendUnavailableException(s.preferredBackend().isEmpty() ? "any" : s.preferredBackend());
        }
        return present.get(0);
    }

    /** An image and the source that holds it. */
    private record Resolved(SourceEntry source, ImageInfo info) {
    }

    /**
     * By id in any source first; then by name across all sources: active images only, preferring a format native
     * to the driver, then the higher-ranked source. Two equally good candidates are a conflict.
     */
    private Resolved resolveImage(String ref, DriverEntry d) {
        List<SourceEntry> srcs = sources;
        if (srcs.isEmpty()) {
            throw new EngineException("no image source is present");
        }
        List<String> errors = new ArrayList<>();
        for (SourceEntry s : srcs) {
            try {
                Optional<ImageInfo> i = s.source().find(ref);
                if (i.isPresent() && i.get().id().equals(ref)) {
                    return new Resolved(s, i.get());
                }
            } catch (ConflictException e) {
                // several of that name here: the name search below decides
            } catch (RuntimeException e) {
                errors.add(s.name() + ": " + oneLine(e.getMessage()));
            }
        }
        List<Resolved> candidates = new ArrayList<>();
        ImageQuery byName = new ImageQuery(ref, null, null, null, null, null, 0);
        for (SourceEntry s : srcs) {
            try {
                for (ImageInfo i : s.source().list(byName)) {
                    if (ref.equals(i.name()) && "active".equalsIgnoreCase(i.status())) {
                        candidates.add(new Resolved(s, i));
                    }
                }
            } catch (RuntimeException e) {
                errors.add(s.name() + ": " + oneLine(e.getMessage()));
            }
        }
        if (candidates.isEmpty()) {
            throw new NotFoundException("image " + Names.show(ref) + " not found"
                    + (errors.isEmpty() ? "" : " (" + String.join("; ", errors) + ")"));
        }
        Set<berth.driver.api.ContainerFormat> nativeFormats;
        try {
            nativeFormats = d.driver().nativeFormats();
        } catch (RuntimeException e) {
            nativeFormats = Set.of();
        }
        final Set<berth.driver.api.ContainerFormat> natives = nativeFormats;
        List<Resolved> pool = candidates.stream().filter(c -> natives.contains(c.info().containerFormat())).toList();
        if (pool.isEmpty()) {
            pool = candidates;
        }
        SourceEntry best = pool.get(0).source();
        List<Resolved> inBest = pool.stream().filter(c -> c.source() == best).toList();
        if (inBest.size() > 1) {
            throw new ConflictException("several images are named " + Names.show(ref) + " in " + best.name()
                    + "; use the image id");
        }
        return inBest.get(0);
    }

    // ---------------------------------------------------------------- lifecycle operations

    private static final Set<VmState> RUNNING_ONLY = EnumSet.of(VmState.ACTIVE);

    @Override
    public Instance delete(String ref, boolean force) {
        return operate(ref, "delete", TaskState.DELETING, EnumSet.complementOf(EnumSet.of(VmState.DELETED)),
                !force, false, (r, d) -> {
                    InstanceRecord.Builder b = r.edit();
                    if (d != null) {
                        d.driver().destroy(r.uuid());
                    } else {
                        LOG.log(Level.WARNING, "instance {0} deleted while backend {1} is absent: its container is"
                                + " removed when the backend returns", r.name(), r.backend());
                        b.addCleanup(Cleanup.CONTAINER);
                    }
                    releaseVifs(r, b);
                    releaseImage(r, b);
                    dropMigrationImage(r);
                    if (d != null) {
                        dropEngineImage(r, d.driver());
                    }
                    return b.vmState(VmState.DELETED).powerState(PowerState.NOSTATE).initPid(0).build();
                }).toInstance();
    }

    /** Unplugs and releases every VIF; what cannot be released stays in the record, marked for clean-up. */
    private void releaseVifs(InstanceRecord r, InstanceRecord.Builder b) {
        if (r.vifs().isEmpty()) {
            return;
        }
        NetworkProvider np = network;
        if (np == null) {
            b.addCleanup(Cleanup.VIFS);
            return;
        }
        List<Vif> left = new ArrayList<>();
        for (Vif v : r.vifs()) {
            try {
                np.unplug(v);
                np.release(v);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "cannot release VIF {0} of {1}: {2}", v.id(), r.name(), e.getMessage());
                left.add(v);
            }
        }
        b.vifs(left);
        if (left.isEmpty()) {
            b.removeCleanup(Cleanup.VIFS);
        } else {
            b.addCleanup(Cleanup.VIFS);
        }
    }

    private void releaseImage(InstanceRecord r, InstanceRecord.Builder b) {
        if (r.imageSource() == null) {
            b.removeCleanup(Cleanup.IMAGE);
            return;
        }
        Optional<SourceEntry> s = source(r.imageSource());
        if (s.isEmpty()) {
            b.addCleanup(Cleanup.IMAGE);
            return;
        }
        try {
            s.get().source().release(r.imageId(), r.uuid());
            b.removeCleanup(Cleanup.IMAGE);
        } catch (NotFoundException e) {
            b.removeCleanup(Cleanup.IMAGE);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot release image {0} of {1}: {2}", r.imageId(), r.name(), e.getMessage());
            b.addCleanup(Cleanup.IMAGE);
        }
    }

    /*
     * The engine copy of an image (a Docker tag, an LXC base) stays cached while the image exists, as Nova's image
     * cache keeps base files; once the image is gone from its source and no other instance on the backend uses it,
     * nothing can boot from it again, so the copy would only pile up.
     */
    private void dropEngineImage(InstanceRecord r, ComputeDriver driver) {
        boolean inUse = registry.live().stream().anyMatch(o -> !o.uuid().equals(r.uuid())
                && o.backend().equals(r.backend()) && o.imageId().equals(r.imageId()));
        if (inUse) {
            return;
        }
        Optional<SourceEntry> s = r.imageSource() == null ? Optional.empty() : source(r.imageSource());
        try {
            if (s.isPresent() && s.get().source().find(r.imageId()).isPresent()) {
                return;
            }
            if (s.isPresent() || r.imageSource() == null) {
                driver.releaseImage(r.imageId());
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot release the engine copy of image {0}: {1}", r.imageId(), e.getMessage());
        }
    }

    /**
     * Deletes the image a migration made for this instance once nothing runs from it any more; images the user
     * booted from or snapshotted are never touched.
     */
    private void dropMigrationImage(InstanceRecord r) {
        if (r.imageSource() == null) {
            return;
        }
        Optional<SourceEntry> s = source(r.imageSource());
        if (s.isEmpty()) {
            return;
        }
        try {
            Optional<ImageInfo> img = s.get().source().find(r.imageId());
            if (img.isPresent() && "migration".equals(img.get().properties().get("image_type"))
                    && r.uuid().equals(img.get().properties().get("instance_uuid"))) {
                s.get().source().delete(r.imageId());
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot delete migration image {0} of {1}: {2}", r.imageId(), r.name(),
                    e.getMessage());
        }
    }

    @Override
    public Instance reboot(String ref, RebootType type) {
        RebootType t = type == null ? RebootType.SOFT : type;
        Set<VmState> from = t == RebootType.SOFT ? RUNNING_ONLY
                : EnumSet.of(VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR);
        return operate(ref, "reboot", t == RebootType.SOFT ? TaskState.REBOOTING : TaskState.REBOOTING_HARD, from,
                true, true, (r, d) -> {
                    NetworkProvider np = networkFor(r);
                    boolean down = r.vmState() == VmState.STOPPED || r.powerState() == PowerState.SHUTDOWN
                            || r.powerState() == PowerState.CRASHED;
                    DriverInstance di = t == RebootType.HARD && down ? d.driver().powerOn(r.uuid())
                            : d.driver().reboot(r.uuid(), t, settings.stopTimeout());
                    InstanceRecord up = registry.put(r.edit().stopRequested(false).initPid(di.initPid())
                            .powerState(di.powerState()).build());
                    plugAll(up, np, di.initPid());
                    return up.edit().vmState(VmState.ACTIVE).build();
                }).toInstance();
    }

    @Override
    public Instance stop(String ref, Duration timeout) {
        Duration t = timeout == null ? settings.stopTimeout() : timeout;
        if (t.isNegative()) {
            throw new InvalidInputException("stop timeout must not be negative");
        }
        return operate(ref, "stop", TaskState.POWERING_OFF, EnumSet.of(VmState.ACTIVE, VmState.ERROR), true, false,
                (r, d) -> {
                    // durable before the engine acts: the exit that follows is ours, whatever its status
                    InstanceRecord asked = registry.put(r.edit().stopRequested(true).build());
                    DriverInstance di;
                    try {
                        di = d.driver().powerOff(r.uuid(), t);
                    } catch (RuntimeException e) {
                        try {
                            if (d.driver().info(r.uuid()).powerState() == PowerState.RUNNING) {
                                // it never stopped: a later exit would not be ours
                                registry.put(asked.edit().stopRequested(false).build());
                            }
                        } catch (RuntimeException ignored) {
                            // the record keeps the request; the next stop or start settles it
                        }
                        throw e;
                    }
                    NetworkProvider np = network;
                    if (np != null) {
                        // the namespace died with init; drop the host ends too
                        r.vifs().forEach(v -> unplugQuietly(np, v));
                    }
                    return asked.edit().vmState(VmState.STOPPED).powerState(effective(asked, di.powerState()))
                            .initPid(0).build();
                }).toInstance();
    }

    @Override
    public Instance start(String ref) {
        return operate(ref, "start", TaskState.POWERING_ON, EnumSet.of(VmState.STOPPED), true, false, (r, d) -> {
            NetworkProvider np = networkFor(r);
            DriverInstance di = d.driver().powerOn(r.uuid());
            InstanceRecord up = registry.put(r.edit().stopRequested(false).initPid(di.initPid())
                    .powerState(di.powerState()).build());
            plugAll(up, np, di.initPid());
            return up.edit().vmState(VmState.ACTIVE).build();
        }).toInstance();
    }

    @Override
    public Instance pause(String ref) {
        return operate(ref, "pause", TaskState.PAUSING, RUNNING_ONLY, true, false, (r, d) -> {
            DriverInstance di = d.driver().pause(r.uuid());
            return r.edit().vmState(VmState.PAUSED).powerState(di.powerState()).build();
        }).toInstance();
    }

    @Override
    public Instance unpause(String ref) {
        return operate(ref, "unpause", TaskState.UNPAUSING, EnumSet.of(VmState.PAUSED), true, false, (r, d) -> {
            DriverInstance di = d.driver().unpause(r.uuid());
            return r.edit().vmState(VmState.ACTIVE).powerState(di.powerState()).build();
        }).toInstance();
    }

    @Override
    public Instance suspend(String ref) {
        return operate(ref, "suspend", TaskState.SUSPENDING, RUNNING_ONLY, true, false, (r, d) -> {
            DriverInstance di = d.driver().suspend(r.uuid());
            return r.edit().vmState(VmState.SUSPENDED).powerState(di.powerState()).build();
        }).toInstance();
    }

    @Override
    public Instance resume(String ref) {
        return operate(ref, "resume", TaskState.RESUMING, EnumSet.of(VmState.SUSPENDED), true, false, (r, d) -> {
            NetworkProvider np = networkFor(r);
            DriverInstance di = d.driver().resume(r.uuid());
            InstanceRecord up = registry.put(r.edit().powerState(di.powerState()).build());
            if (di.initPid() > 0 && di.initPid() != r.initPid()) {
                // restored from a checkpoint: a new init, a new namespace
                up = registry.put(up.edit().initPid(di.initPid()).build());
                plugAll(up, np, di.initPid());
            }
            return up.edit().vmState(VmState.ACTIVE).build();
        }).toInstance();
    }

    @Override
    public ImageInfo snapshot(String ref, String imageName, ProgressListener progress) {
        if (imageName == null || imageName.isBlank() || imageName.length() > 255
                || imageName.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new InvalidInputException("invalid image name " + Names.show(imageName));
        }
        ProgressListener listener = progress == null ? ProgressListener.NONE : progress;
        ImageInfo[] made = new ImageInfo[1];
        operate(ref, "snapshot", TaskState.IMAGE_SNAPSHOT,
                EnumSet.of(VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED), true, false,
                (r, d) -> {
                    SourceEntry target = Optional.ofNullable(r.imageSource()).flatMap(this::source)
                            .or(() -> sources.stream().findFirst())
                            .orElseThrow(() -> new EngineException("no image source is present to store the snapshot"));
                    Map<String, String> props = new LinkedHashMap<>();
                    props.put("image_location", "snapshot");
                    props.put("image_type", "snapshot");
                    props.put("instance_uuid", r.uuid());
                    props.put("backend", r.backend());
                    props.put("base_image_ref", r.imageId());
                    List<String> command = effectiveCommand(r, d.driver());
                    if (!command.isEmpty()) {
                        props.put(ImageInfo.COMMAND_LINE, CommandLine.join(command));
                    }
                    try (SnapshotStream snap = d.driver().snapshot(r.uuid())) {
                        // streamed from the engine into the image source; never held in memory
                        made[0] = target.source().upload(imageName.trim(), snap.containerFormat(), snap.diskFormat(),
                                props, snap.data(), listener);
                    } catch (IOException e) {
                        throw new EngineException("snapshot of " + r.name() + ": " + e.getMessage(), e);
                    }
                    return r;
                });
        return made[0];
    }

    /*
     * A rootfs tar cannot carry a command, so snapshots and migrations record the one the instance runs: the
     * boot's, else what the driver resolved from the image (a docker archive's entrypoint and command).
     */
    private static List<String> effectiveCommand(InstanceRecord r, ComputeDriver driver) {
        if (!r.command().isEmpty()) {
            return r.command();
        }
        try {
            return driver.command(r.uuid());
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "no command from the driver for {0}: {1}", new Object[] {r.name(), e.getMessage()});
            return List.of();
        }
    }

    /**
     * Cold migration, composed from the SPI: the instance is stopped, its filesystem captured with the source
     * driver's snapshot and streamed into the image source (property {@code image_type=migration}), spawned on the
     * target driver from that image (the target converts a format it does not boot natively), its VIFs re-plugged
     * (same MAC and address), and only then is the old container destroyed. On failure everything on the target
     * is undone and the instance is back on its source backend, running again if it was running.
     */
    @Override
    public Instance migrate(String ref, String backend, ProgressListener progress) {
        if (backend == null || !Names.BACKEND.matcher(backend).matches()) {
            throw new InvalidInputException("invalid backend name " + Names.show(backend));
        }
        ProgressListener listener = progress == null ? ProgressListener.NONE : progress;
        InstanceRecord found = resolve(ref);
        presentDriver(found);
        if (backend.equals(found.backend())) {
            throw new InvalidInputException("instance " + found.name() + " is already on " + backend);
        }
        DriverEntry dst = driver(backend).orElseThrow(() -> knownBackend(backend)
                ? new BackendUnavailableException(backend)
                : new InvalidInputException("unknown backend " + Names.show(backend)));
        return operate(ref, "migrate", TaskState.MIGRATING, EnumSet.of(VmState.ACTIVE, VmState.STOPPED), true, false,
                (r, src) -> moveTo(r, src, dst, listener)).toInstance();
    }

    private InstanceRecord moveTo(InstanceRecord r, DriverEntry src, DriverEntry dst, ProgressListener progress) {
        NetworkProvider np = networkFor(r);
        Flavor flavor = settings.flavors().get(r.flavor());
        SourceEntry store = Optional.ofNullable(r.imageSource()).flatMap(this::source)
                .or(() -> sources.stream().findFirst())
                .orElseThrow(() -> new EngineException("no image source is present to carry the migration"));
        String uuid = r.uuid();
        boolean wasRunning = r.vmState() == VmState.ACTIVE;
        if (wasRunning) {
            r = registry.put(r.edit().stopRequested(true).build());
            src.driver().powerOff(uuid, settings.stopTimeout());
            if (np != null) {
                r.vifs().forEach(v -> unplugQuietly(np, v));
            }
        }
        Deque<Undo> undo = new ArrayDeque<>();
        ImageInfo moved;
        DriverInstance di;
        try {
            Map<String, String> props = new LinkedHashMap<>();
            props.put("image_type", "migration");
            props.put("instance_uuid", uuid);
            props.put("backend", src.name());
            props.put("base_image_ref", r.imageId());
            List<String> command = effectiveCommand(r, src.driver());
            if (!command.isEmpty()) {
                props.put(ImageInfo.COMMAND_LINE, CommandLine.join(command));
            }
            try (SnapshotStream snap = src.driver().snapshot(uuid)) {
                moved = store.source().upload("migrate-" + r.name() + "-" + uuid.substring(0, 8),
                        snap.containerFormat(), snap.diskFormat(), props, snap.data(), progress);
            } catch (IOException e) {
                throw new EngineException("migrate of " + r.name() + ": " + e.getMessage(), e);
            }
            String movedId = moved.id();
            undo.push(new Undo("delete migration image", null, () -> store.source().delete(movedId)));
            LocalImage local = store.source().acquire(movedId, uuid, progress);
            undo.push(new Undo("release migration image", null, () -> store.source().release(movedId, uuid)));
            undo.push(new Undo("destroy target container", null, () -> dst.driver().destroy(uuid)));
            di = dst.driver().spawn(new SpawnSpec(uuid, r.name(), flavor, local, r.metadata(), r.command()));
            if (wasRunning) {
                if (!r.vifs().isEmpty() && di.initPid() <= 0) {
                    throw new EngineException("instance " + r.name() + " has no init process on " + dst.name());
                }
                for (Vif v : r.vifs()) {
                    undo.push(new Undo("unplug VIF " + v.id(), null, () -> np.unplug(v)));
                    np.plug(v, di.initPid());
                }
            } else {
                di = dst.driver().powerOff(uuid, settings.stopTimeout());
            }
        } catch (RuntimeException e) {
            while (!undo.isEmpty()) {
                Undo u = undo.pop();
                try {
                    u.action().run();
                } catch (RuntimeException ue) {
                    LOG.log(Level.WARNING, "undoing migrate of {0}: cannot {1}: {2}", r.name(), u.what(),
                            ue.getMessage());
                }
            }
            if (wasRunning) {
                try {
                    DriverInstance back = src.driver().powerOn(uuid);
                    InstanceRecord up = registry.put(r.edit().stopRequested(false).initPid(back.initPid())
                            .powerState(back.powerState()).build());
                    plugAll(up, np, back.initPid());
                } catch (RuntimeException again) {
                    throw new LeftInError(new EngineException(oneLine(e.getMessage()) + "; and restarting on "
                            + src.name() + " failed: " + oneLine(again.getMessage()), e));
                }
            }
            throw e;
        }
        // the instance now lives on the target; the record says so before the old container goes
        InstanceRecord.Builder b = r.edit().backend(dst.name()).imageId(moved.id()).imageSource(store.name())
                .vmState(wasRunning ? VmState.ACTIVE : VmState.STOPPED).initPid(wasRunning ? di.initPid() : 0)
                .stopRequested(!wasRunning).powerState(wasRunning ? di.powerState() : PowerState.SHUTDOWN);
        releaseImage(r, b);
        b.removeCleanup(Cleanup.IMAGE);
        InstanceRecord moved2 = registry.put(b.build());
        dropMigrationImage(r);
        try {
            src.driver().destroy(uuid);
        } catch (RuntimeException e) {
            // reconcile removes it: the registry says the instance lives elsewhere
            LOG.log(Level.WARNING, "instance {0} migrated; its old container on {1} stays until reconcile: {2}",
                    r.name(), src.name(), e.getMessage());
        }
        LOG.log(Level.INFO, "instance {0} migrated from {1} to {2}", r.name(), src.name(), dst.name());
        return moved2;
    }

    @Override
    public Instance attachInterface(String ref, String networkName, Vif port) {
        if ((networkName == null) == (port == null)) {
            throw new InvalidInputException("give either a network or a port");
        }
        if (networkName != null && !NETWORK_NAME.matcher(networkName).matches()) {
            throw new InvalidInputException("invalid network name " + Names.show(networkName));
        }
        NetworkProvider np = network;
        if (np == null) {
            throw new EngineException("no network provider is present");
        }
        String net = "default".equals(networkName) ? settings.defaultNetwork() : networkName;
        return operate(ref, "attach an interface to", TaskState.NETWORKING,
                EnumSet.of(VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED), true, false,
                (r, d) -> {
                    String device = "eth" + nextDevice(r.vifs());
                    Vif v = net != null ? np.allocate(net, r.uuid(), device) : np.adopt(port.withDevice(device),
                            r.uuid());
                    List<Vif> with = new ArrayList<>(r.vifs());
                    with.add(v);
                    InstanceRecord withVif;
                    try {
                        withVif = registry.put(r.edit().vifs(with).build());
                    } catch (RuntimeException e) {
                        np.release(v);
                        throw e;
                    }
                    try {
                        if (r.vmState() != VmState.STOPPED) {
                            long pid = d.driver().info(r.uuid()).initPid();
                            if (pid > 0) {
                                np.plug(v, pid);
                            }
                        }
                    } catch (RuntimeException e) {
                        unplugQuietly(np, v);
                        try {
                            np.release(v);
                        } finally {
                            registry.put(r);
                        }
                        throw e;
                    }
                    return withVif;
                }).toInstance();
    }

    private static int nextDevice(List<Vif> vifs) {
        int n = 0;
        while (true) {
            String dev = "eth" + n;
            if (vifs.stream().noneMatch(v -> v.device().equals(dev))) {
                return n;
            }
            n++;
        }
    }

    @Override
    public Instance detachInterface(String ref, String vifId) {
        if (vifId == null || vifId.isBlank()) {
            throw new InvalidInputException("no VIF id given");
        }
        return operate(ref, "detach an interface from", TaskState.NETWORKING,
                EnumSet.of(VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR), true,
                false, (r, d) -> {
                    Vif v = r.vifs().stream().filter(x -> x.id().equals(vifId)).findFirst().orElseThrow(
                            () -> new NotFoundException("instance " + r.name() + " has no VIF " + Names.show(vifId)));
                    NetworkProvider np = network;
                    if (np == null) {
                        throw new EngineException("no network provider is present");
                    }
                    np.unplug(v);
                    np.release(v);
                    List<Vif> without = new ArrayList<>(r.vifs());
                    without.remove(v);
                    return r.edit().vifs(without).build();
                }).toInstance();
    }

    // ---------------------------------------------------------------- reads

    @Override
    public String console(String ref, int lines) {
        if (lines < 1) {
            throw new InvalidInputException("lines must be at least 1");
        }
        InstanceRecord r = resolve(ref);
        DriverEntry d = presentDriver(r);
        if (r.vmState() == VmState.BUILDING) {
            throw new ConflictException("instance " + r.name() + " is still building");
        }
        return d.driver().consoleOutput(r.uuid(), lines);
    }

    @Override
    public ExecResult exec(String ref, List<String> argv, Map<String, String> env, Duration timeout) {
        if (argv == null || argv.isEmpty() || argv.get(0) == null || argv.get(0).isEmpty()) {
            throw new InvalidInputException("no command given");
        }
        if (argv.stream().anyMatch(w -> w == null || w.indexOf('\0') >= 0)) {
            throw new InvalidInputException("command words must not contain NUL");
        }
        Map<String, String> e = env == null ? Map.of() : env;
        checkMetadata(e);
        Duration t = timeout == null ? DEFAULT_EXEC_TIMEOUT : timeout;
        if (t.isNegative() || t.isZero()) {
            throw new InvalidInputException("exec timeout must be positive");
        }
        InstanceRecord r = resolve(ref);
        DriverEntry d = presentDriver(r);
        if (r.vmState() != VmState.ACTIVE) {
            throw new ConflictException("instance " + r.name() + " is not running (" + r.vmState().label() + ")");
        }
        return d.driver().exec(r.uuid(), argv, e, t);
    }

    @Override
    public Diagnostics diagnostics(String ref) {
        InstanceRecord r = resolve(ref);
        DriverEntry d = presentDriver(r);
        return d.driver().diagnostics(r.uuid());
    }

    @Override
    public List<Instance> list() {
        List<InstanceRecord> live = registry.live();
        Map<String, Map<String, DriverInstance>> engines = new HashMap<>();
        List<Instance> out = new ArrayList<>(live.size());
        for (InstanceRecord r : live) {
            Map<String, DriverInstance> engine = engines.computeIfAbsent(r.backend(), this::engineView);
            DriverInstance di = engine.get(r.uuid());
            out.add(di != null && r.taskState() == null ? r.toInstance(effective(r, di.powerState()))
                    : r.toInstance());
        }
        return out;
    }

    /** What a present backend's engine reports now, empty when absent or failing (the records then speak). */
    private Map<String, DriverInstance> engineView(String backend) {
        Optional<DriverEntry> d = driver(backend);
        if (d.isEmpty()) {
            return Map.of();
        }
        try {
            Map<String, DriverInstance> m = new HashMap<>();
            for (DriverInstance di : d.get().driver().list()) {
                m.put(di.uuid(), di);
            }
            return m;
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "cannot list backend {0}: {1}", backend, e.getMessage());
            return Map.of();
        }
    }

    @Override
    public Instance show(String ref) {
        InstanceRecord r = resolve(ref);
        Optional<DriverEntry> d = driver(r.backend());
        if (d.isPresent() && r.taskState() == null && r.vmState() != VmState.ERROR) {
            try {
                return r.toInstance(effective(r, d.get().driver().info(r.uuid()).powerState()));
            } catch (RuntimeException e) {
                // the record speaks
            }
        }
        return r.toInstance();
    }

    @Override
    public List<Flavor> flavors() {
        return settings.flavors().list();
    }

    @Override
    public List<HostResources> hypervisors() {
        List<HostResources> out = new ArrayList<>();
        Set<String> done = new TreeSet<>();
        for (DriverEntry d : drivers) {
            if (!done.add(d.name())) {
                continue;
            }
            try {
                out.add(d.driver().hostResources());
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "backend {0} cannot report host resources: {1}", d.name(), e.getMessage());
            }
        }
        return out;
    }

    @Override
    public List<BackendStatus> backends() {
        String def = defaultBackend().orElse(null);
        String preferred = settings.preferredBackend();
        List<InstanceRecord> live = registry.live();
        List<BackendStatus> out = new ArrayList<>();
        for (String name : knownBackends()) {
            int count = (int) live.stream().filter(r -> r.backend().equals(name)).count();
            ReconcileReport rep = reports.get(name);
            List<String> detail = new ArrayList<>();
            if (name.equals(preferred)) {
                detail.add("preferred");
            }
            berth.runtime.internal.deploy.Deployments deployer = deployments;
            if (deployer != null) {
                deployer.refusal(bundleNames.getOrDefault(name, "berth.driver." + name)).ifPresent(detail::add);
            }
            Optional<DriverEntry> d = driver(name);
            if (d.isPresent()) {
                String version = null;
                String health = "ok";
                try {
                    version = d.get().driver().engineVersion();
                    seen.put(name, new Seen(d.get().ranking(), d.get().bundleVersion(), version));
                    // Without live restore, restarting the engine stops every instance on it.
                    if ("false".equals(d.get().driver().hostResources().extra().get("live.restore"))) {
                        health = "warning";
                        detail.add("engine runs without --live-restore: restarting it stops every instance");
                    }
                } catch (RuntimeException e) {
                    health = "error";
                    detail.add("engine: " + oneLine(e.getMessage()));
                }
                if (rep != null) {
                    detail.add(rep.summary());
                    if (rep.error() != null) {
                        health = "error";
                    }
                }
                out.add(new BackendStatus(name, true, name.equals(def), d.get().ranking(), version,
                        d.get().bundleVersion(), count, health, String.join("; ", detail)));
            } else {
                Seen s = seen.get(name);
                if (name.equals(preferred)) {
                    detail.add("absent: boots go to " + (def == null ? "no backend" : def));
                }
                out.add(new BackendStatus(name, false, false, s == null ? 0 : s.ranking(),
                        s == null ? null : s.engineVersion(), s == null ? null : s.bundleVersion(), count, "absent",
                        String.join("; ", detail)));
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- ComputeAdmin

    @Override
    public boolean preferBackend(String backend) {
        String name = backend == null ? "" : backend.trim();
        if (!name.isEmpty()) {
            if (!Names.BACKEND.matcher(name).matches()) {
                throw new InvalidInputException("invalid backend name " + Names.show(backend));
            }
            if (!knownBackend(name)) {
                throw new InvalidInputException("unknown backend " + Names.show(name) + " (known: "
                        + String.join(", ", knownBackends()) + ")");
            }
        }
        settings = settings.withPreferred(name);
        ConfigurationAdmin ca = configAdmin;
        if (ca == null) {
            LOG.log(Level.WARNING, "no ConfigurationAdmin: preferred backend {0} holds until restart", name);
            return false;
        }
        try {
            Configuration c = ca.getConfiguration(PID, "?");
            Dictionary<String, Object> props = c.getProperties();
            if (props == null) {
                props = new Hashtable<>();
            }
            props.put("preferredBackend", name);
            c.update(props);
            return true;
        } catch (IOException | RuntimeException e) {
            throw new EngineException("cannot persist the preferred backend: " + oneLine(e.getMessage()), e);
        }
    }

    @Override
    public Optional<String> preferredBackend() {
        String p = settings.preferredBackend();
        return p.isEmpty() ? Optional.empty() : Optional.of(p);
    }

    @Override
    public Optional<String> defaultBackend() {
        String p = settings.preferredBackend();
        if (!p.isEmpty() && driver(p).isPresent()) {
            return Optional.of(p);
        }
        List<DriverEntry> present = drivers;
        return present.isEmpty() ? Optional.empty() : Optional.of(present.get(0).name());
    }

    @Override
    public String defaultNetwork() {
        return settings.defaultNetwork();
    }

    @Override
    public List<ReconcileReport> reconcileReport() {
        return new TreeSet<>(reports.keySet()).stream().map(reports::get).toList();
    }

    @Override
    public List<ReconcileReport> reconcile() {
        List<ReconcileReport> out = new ArrayList<>();
        Set<String> done = new TreeSet<>();
        for (DriverEntry d : drivers) {
            if (done.add(d.name())) {
                out.add(reconcileBackend(d.name(), false));
            }
        }
        retryCleanups();
        return out;
    }

    @Override
    public String destroyOrphan(String uuid) {
        if (uuid == null || !Names.UUID.matcher(uuid.trim()).matches()) {
            throw new InvalidInputException("invalid uuid " + Names.show(uuid));
        }
        String u = uuid.trim().toLowerCase(Locale.ROOT);
        if (registry.get(u).isPresent()) {
            throw new ConflictException("instance " + u + " is in the registry: use delete, not orphan removal");
        }
        for (ReconcileReport rep : reconcileReport()) {
            if (rep.orphans().stream().anyMatch(o -> o.uuid().equals(u))) {
                DriverEntry d = driver(rep.backend())
                        .orElseThrow(() -> new BackendUnavailableException(rep.backend()));
                d.driver().destroy(u);
                List<ReconcileReport.Orphan> left = rep.orphans().stream().filter(o -> !o.uuid().equals(u)).toList();
                reports.put(rep.backend(), new ReconcileReport(rep.backend(), rep.when(), left, rep.missing(),
                        rep.cleaned(), rep.refreshed(), rep.error()));
                LOG.log(Level.INFO, "orphan container {0} removed from backend {1}", u, rep.backend());
                return rep.backend();
            }
        }
        throw new NotFoundException("no orphan " + u + " was reported; run a reconcile first");
    }

    @Override
    public List<String> registryProblems() {
        return registry.problems();
    }

    // ---------------------------------------------------------------- reconcile

    /**
     * Compares the registry with one backend's engine: destroys leftovers of deleted or rolled-back instances,
     * marks instances the engine lost as ERROR "missing in engine", refreshes power states (re-plugging VIFs when
     * the engine restarted a container: a new init is a new namespace) and reports orphans. Instances busy with
     * an operation are left alone.
     *
     * @param backend backend name
     * @param quiet   log only what needs attention (the periodic sync)
     * @return the report, also kept for {@link #reconcileReport()}
     */
    ReconcileReport reconcileBackend(String backend, boolean quiet) {
        Optional<DriverEntry> od = driver(backend);
        if (od.isEmpty()) {
            return null;
        }
        DriverEntry d = od.get();
        List<DriverInstance> engine;
        try {
            engine = d.driver().list();
        } catch (RuntimeException e) {
            ReconcileReport rep = new ReconcileReport(backend, Instant.now(), List.of(), List.of(), List.of(), 0,
                    oneLine(e.getMessage()));
            reports.put(backend, rep);
            LOG.log(Level.WARNING, "backend {0}: {1}", backend, rep.summary());
            return rep;
        }
        Map<String, DriverInstance> byUuid = new HashMap<>();
        for (DriverInstance di : engine) {
            byUuid.put(di.uuid(), di);
        }
        List<ReconcileReport.Orphan> orphans = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        List<String> cleaned = new ArrayList<>();
        for (DriverInstance di : engine) {
            Optional<InstanceRecord> owner = registry.get(di.uuid());
            if (owner.isEmpty()) {
                orphans.add(new ReconcileReport.Orphan(di.uuid(), di.engineId(), di.powerState()));
            } else if (!owner.get().backend().equals(backend)) {
                // left behind by a migration whose last step failed: the instance lives on another backend
                ReentrantLock lock = lockOf(di.uuid());
                if (lock.tryLock()) {
                    try {
                        if (!registry.get(di.uuid()).map(InstanceRecord::backend).orElse(backend).equals(backend)) {
                            d.driver().destroy(di.uuid());
                            cleaned.add(di.uuid());
                        }
                    } catch (RuntimeException e) {
                        LOG.log(Level.WARNING, "cannot remove the old container of {0}: {1}", di.uuid(),
                                e.getMessage());
                    } finally {
                        lock.unlock();
                    }
                }
            }
        }
        int refreshed = 0;
        for (InstanceRecord listed : registry.all()) {
            if (!listed.backend().equals(backend)) {
                continue;
            }
            ReentrantLock lock = lockOf(listed.uuid());
            if (!lock.tryLock()) {
                continue;
            }
            try {
                InstanceRecord r = registry.get(listed.uuid()).orElse(listed);
                DriverInstance di = byUuid.get(r.uuid());
                if (r.vmState() != VmState.DELETED && r.taskState() == null && (di == null
                        || effective(r, di.powerState()) != r.powerState() || di.initPid() != r.initPid())) {
                    // the listing predates the lock: an operation may have finished since, so ask again
                    di = freshInfo(d, r.uuid());
                }
                boolean leftover = r.pendingCleanup().contains(Cleanup.CONTAINER)
                        || (r.vmState() == VmState.DELETED && di != null);
                if (leftover) {
                    try {
                        d.driver().destroy(r.uuid());
                        registry.put(r.edit().removeCleanup(Cleanup.CONTAINER).build());
                        cleaned.add(r.uuid());
                    } catch (RuntimeException e) {
                        LOG.log(Level.WARNING, "cannot remove the leftover container of {0}: {1}", r.name(),
                                e.getMessage());
                    }
                    continue;
                }
                if (r.vmState() == VmState.DELETED || r.taskState() != null) {
                    continue;
                }
                if (di == null) {
                    if (EnumSet.of(VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED)
                            .contains(r.vmState())) {
                        registry.put(r.edit().vmState(VmState.ERROR).powerState(PowerState.NOSTATE).initPid(0)
                                .fault(MISSING).build());
                        missing.add(r.uuid());
                        LOG.log(Level.WARNING, "instance {0} is missing in backend {1}", r.name(), backend);
                    }
                    continue;
                }
                refreshed++;
                refresh(r, di);
            } finally {
                lock.unlock();
            }
        }
        ReconcileReport rep = new ReconcileReport(backend, Instant.now(), orphans, missing, cleaned, refreshed, null);
        ReconcileReport previous = reports.put(backend, rep);
        Set<String> known = new TreeSet<>();
        if (quiet && previous != null) {
            // the periodic sync repeats only what is new
            previous.orphans().forEach(o -> known.add(o.uuid()));
        }
        boolean news = !missing.isEmpty();
        for (ReconcileReport.Orphan o : orphans) {
            if (!known.contains(o.uuid())) {
                news = true;
                LOG.log(Level.WARNING, "backend {0} holds orphan container {1} (instance {2}) unknown to the "
                        + "registry", backend, o.engineId(), o.uuid());
            }
        }
        LOG.log(news ? Level.WARNING : quiet ? Level.DEBUG : Level.INFO, "backend {0} reconciled: {1}",
                backend, rep.summary());
        return rep;
    }

    private static DriverInstance freshInfo(DriverEntry d, String uuid) {
        try {
            return d.driver().info(uuid);
        } catch (NotFoundException e) {
            return null;
        }
    }

    private void refresh(InstanceRecord r, DriverInstance di) {
        PowerState p = effective(r, di.powerState());
        InstanceRecord.Builder b = r.edit().powerState(p);
        VmState vm = r.vmState();
        if (vm == VmState.ERROR && MISSING.equals(r.fault())) {
            // the engine has it again (an engine restored from backup, a dockerd back with live-restore)
            vm = switch (p) {
                case RUNNING -> VmState.ACTIVE;
                case PAUSED -> VmState.PAUSED;
                case SUSPENDED -> VmState.SUSPENDED;
                default -> VmState.STOPPED;
            };
            b.vmState(vm).fault(null);
        } else if (vm == VmState.ACTIVE && (p == PowerState.SHUTDOWN || p == PowerState.CRASHED)) {
            // as Nova's power-state sync: the workload ended on its own; the power state says how
            vm = VmState.STOPPED;
            b.vmState(vm);
        }
        NetworkProvider np = network;
        if (p == PowerState.RUNNING && di.initPid() > 0 && di.initPid() != r.initPid() && !r.vifs().isEmpty()
                && np != null) {
            try {
                for (Vif v : r.vifs()) {
                    np.plug(v, di.initPid());
                }
                b.initPid(di.initPid());
            } catch (RuntimeException e) {
                b.fault("re-plug after engine restart failed: " + oneLine(e.getMessage()));
            }
        }
        InstanceRecord n = b.build();
        if (n.powerState() != r.powerState() || n.vmState() != r.vmState() || n.initPid() != r.initPid()
                || !Objects.equals(n.fault(), r.fault())) {
            saveQuietly(n);
        }
    }

    /** Retries the network and image clean-ups of deleted or rolled-back instances whose owners are present. */
    void retryCleanups() {
        for (InstanceRecord listed : registry.all()) {
            if (listed.pendingCleanup().isEmpty()) {
                continue;
            }
            ReentrantLock lock = lockOf(listed.uuid());
            if (!lock.tryLock()) {
                continue;
            }
            try {
                InstanceRecord r = registry.get(listed.uuid()).orElse(listed);
                InstanceRecord.Builder b = r.edit();
                if (r.pendingCleanup().contains(Cleanup.CONTAINER)) {
                    Optional<DriverEntry> d = driver(r.backend());
                    if (d.isPresent()) {
                        try {
                            d.get().driver().destroy(r.uuid());
                            b.removeCleanup(Cleanup.CONTAINER);
                        } catch (RuntimeException e) {
                            LOG.log(Level.WARNING, "cannot remove the leftover container of {0}: {1}", r.name(),
                                    e.getMessage());
                        }
                    }
                }
                if (r.pendingCleanup().contains(Cleanup.VIFS) && network != null) {
                    releaseVifs(r, b);
                }
                if (r.pendingCleanup().contains(Cleanup.IMAGE)) {
                    releaseImage(r, b);
                }
                InstanceRecord n = b.build();
                if (!n.pendingCleanup().equals(r.pendingCleanup()) || !n.vifs().equals(r.vifs())) {
                    saveQuietly(n);
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
