package berth.runtime.internal.deploy;

import berth.runtime.internal.deploy.Deployment.State;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.jar.Attributes;
import java.util.jar.JarInputStream;
import java.util.jar.Manifest;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.Version;
import org.osgi.framework.startlevel.BundleStartLevel;
import org.osgi.framework.startlevel.FrameworkStartLevel;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Hot deployment of backend, image-source and network bundles from {@code ${berth.state.dir}/deploy}.
 *
 * <p>Stock FileInstall updates a bundle in place: the old build is gone before the new one has shown that it
 * works. This deployer installs a changed jar <em>beside</em> the bundle of the same symbolic name (under a
 * location of its own, so both can be installed; two builds of one version need the framework property
 * {@code org.osgi.framework.bsnversion=multiple}), starts it, and waits until it registers every Berth service
 * the old build registers (a {@code ComputeDriver} with the same {@code berth.backend}, an {@code ImageSource}
 * with the same {@code berth.image.source}, a {@code NetworkProvider}). Only then is the old build stopped and
 * uninstalled. A build that does not resolve, does not start or does not serve in time is uninstalled again and
 * the old one keeps serving; the reason goes to the log and to {@link #current()} ({@code berth:deployments}).
 * A bundle providing a {@code NetworkProvider} cannot overlap (its VIF store is locked by one owner and its
 * firewall rules are revoked when it closes): it hands over instead, the old build stopped first and started
 * again if the new one does not serve in time.
 *
 * <p>Jars are polled, not watched: a WatchService misses changes on some file systems and a poll every second
 * costs one directory listing. A jar is taken at once when it opens as a complete zip (its central directory is
 * written last), else once its size and time stamp held still for one poll, so a slow copy is not read
 * half-written. Removing a jar uninstalls the bundle it
 * installed. FileInstall keeps handling {@code .cfg} files in the same folder.
 */
@Component(service = Deployments.class, immediate = true, configurationPid = BundleDeployer.PID)
@Designate(ocd = BundleDeployer.Config.class)
public final class BundleDeployer implements Deployments {

    /** Configuration PID. */
    public static final String PID = "berth.deploy";
    /** Prefix of the locations of bundles this deployer installed. */
    public static final String LOCATION_PREFIX = "berth-deploy:";

    static final String DRIVER = "berth.driver.api.spi.ComputeDriver";
    static final String IMAGES = "berth.driver.api.spi.ImageSource";
    static final String NETWORK = "berth.driver.api.spi.NetworkProvider";
    /** The Berth services that prove a build serves, with the property that tells instances of each apart. */
    static final Map<String, String> SERVING = Map.of(DRIVER, "berth.backend", IMAGES, "berth.image.source",
            NETWORK, "");

    /** Services whose providers cannot run twice at once: their bundles hand over instead of overlapping. */
    static final Set<String> HANDOVER = Set.of(NETWORK);

    private static final System.Logger LOG = System.getLogger(BundleDeployer.class.getName());
    private static final int HISTORY = 100;
    private static final long SETTLE_MILLIS = 1000;

    @ObjectClassDefinition(name = "Berth hot deployer",
            description = "Installs bundle jars dropped into the deploy folder beside the running build and switches once the new build serves.")
    public @interface Config {
        @AttributeDefinition(description = "Folder to watch; empty: berth.deploy.dir, else ${berth.state.dir}/deploy")
        String dir() default "";

        @AttributeDefinition(description = "Milliseconds between scans; 0: berth.deploy.poll.ms, else 1000")
        long poll_ms() default 0;

        @AttributeDefinition(description = "Seconds a new build has to register its services; 0: berth.deploy.timeout.s, else 60")
        long serve_timeout_s() default 0;
    }

    /** What was last seen of one jar: its stamp (to notice a copy in progress) and the hash it was handled at. */
    private static final class Seen {
        long size = -1;
        long mtime = -1;
        String handledHash;
    }

    /** A Berth service a build must register to count as serving. */
    private record Expect(String objectClass, String key, Object value) {
        String describe() {
            String simple = objectClass.substring(objectClass.lastIndexOf('.') + 1);
            return key.isEmpty() ? simple : simple + " (" + key + "=" + value + ")";
        }
    }

    private final BundleContext context;
    private final Path folder;
    private final Duration serveTimeout;
    private final ScheduledExecutorService worker;
    private final Map<String, Seen> seen = new HashMap<>();
    private final Map<String, Deployment> current = new TreeMap<>();
    private final Deque<Deployment> history = new ArrayDeque<>();

    @Activate
    public BundleDeployer(BundleContext context, Config config) {
        this.context = context;
        this.folder = folder(context, config);
        long poll = positive(config.poll_ms(), context.getProperty("berth.deploy.poll.ms"), 1000);
        this.serveTimeout = Duration.ofSeconds(positive(config.serve_timeout_s(),
                context.getProperty("berth.deploy.timeout.s"), 60));
        this.worker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-deployer");
            t.setDaemon(true);
            return t;
        });
        worker.scheduleWithFixedDelay(this::scanQuietly, 0, Math.max(100, poll), TimeUnit.MILLISECONDS);
        LOG.log(Level.INFO, "deployer watches {0} every {1} ms", folder, poll);
    }

    private static Path folder(BundleContext context, Config config) {
        String dir = config.dir();
        if (dir == null || dir.isBlank()) {
            dir = context.getProperty("berth.deploy.dir");
        }
        if (dir == null || dir.isBlank()) {
            String state = context.getProperty("berth.state.dir");
            return Path.of(state == null || state.isBlank() ? "/var/lib/berth" : state.trim(), "deploy");
        }
        return Path.of(dir.trim());
    }

    private static long positive(long configured, String property, long dflt) {
        if (configured > 0) {
            return configured;
        }
        if (property != null && !property.isBlank()) {
            try {
                long v = Long.parseLong(property.trim());
                if (v > 0) {
                    return v;
                }
            } catch (NumberFormatException e) {
                // fall through to the default
            }
        }
        return dflt;
    }

    @Deactivate
    void close() {
        worker.shutdownNow();
        try {
            worker.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- Deployments

    @Override
    public Path folder() {
        return folder;
    }

    @Override
    public synchronized List<Deployment> current() {
        return List.copyOf(current.values());
    }

    @Override
    public synchronized List<Deployment> history() {
        return List.copyOf(history);
    }

    @Override
    public List<Deployment> scanNow() {
        Future<List<Deployment>> f = worker.submit(() -> scan(true));
        try {
            return f.get(serveTimeout.toSeconds() * 4 + 60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the deploy scan");
        } catch (ExecutionException e) {
            throw new IllegalStateException("deploy scan failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("deploy scan still running");
        }
    }

    // ---------------------------------------------------------------- scanning

    private void scanQuietly() {
        try {
            scan(false);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "deploy scan of " + folder + " failed: " + e.getMessage(), e);
        }
    }

    /** Runs on the worker thread only. */
    private List<Deployment> scan(boolean now) {
        List<Deployment> out = new ArrayList<>();
        Map<String, Path> jars = new TreeMap<>();
        if (Files.isDirectory(folder)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder, "*.jar")) {
                for (Path p : ds) {
                    String n = p.getFileName().toString();
                    if (!n.startsWith(".") && Files.isRegularFile(p)) {
                        jars.put(n, p);
                    }
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, "cannot list {0}: {1}", folder, e.getMessage());
                return out;
            }
        }
        for (Map.Entry<String, Path> e : jars.entrySet()) {
            Deployment d = consider(e.getKey(), e.getValue(), now);
            if (d != null) {
                out.add(d);
            }
        }
        for (String gone : new ArrayList<>(seen.keySet())) {
            if (!jars.containsKey(gone)) {
                seen.remove(gone);
                Deployment d = removed(gone);
                if (d != null) {
                    out.add(d);
                }
            }
        }
        return out;
    }

    private Deployment consider(String name, Path jar, boolean now) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(jar, BasicFileAttributes.class);
        } catch (IOException e) {
            return null; // vanished between listing and reading
        }
        Seen s = seen.computeIfAbsent(name, k -> new Seen());
        long size = a.size();
        long mtime = a.lastModifiedTime().toMillis();
        boolean still = s.size == size && s.mtime == mtime;
        boolean old = System.currentTimeMillis() - mtime > SETTLE_MILLIS;
        if (!still) {
            s.size = size;
            s.mtime = mtime;
            if (!old && !now && !complete(jar)) {
                return null; // still being written: look again at the next poll
            }
        } else if (s.handledHash != null) {
            return null;
        }
        String hash;
        try {
            hash = sha256(jar);
        } catch (IOException e) {
            return null;
        }
        if (hash.equals(s.handledHash)) {
            return null;
        }
        s.handledHash = hash;
        String location = LOCATION_PREFIX + name + "#" + hash;
        Bundle existing = context.getBundle(location);
        if (existing != null && existing.getState() != Bundle.UNINSTALLED) {
            // installed from this very content before (a restart with a kept framework cache)
            return record(new Deployment(name, existing.getSymbolicName(), existing.getVersion().toString(), hash,
                    State.INSTALLED, existing.getBundleId(), "", -1, "installed before this start", Instant.now()));
        }
        return deploy(name, jar, hash, location);
    }

    // ---------------------------------------------------------------- deploying

    private Deployment deploy(String name, Path jar, String hash, String location) {
        long picked = System.nanoTime();
        Manifest mf;
        try (JarInputStream in = new JarInputStream(Files.newInputStream(jar))) {
            mf = in.getManifest();
        } catch (IOException e) {
            return record(new Deployment(name, "", "", hash, State.FAILED, -1, "", -1,
                    "not a readable jar: " + oneLine(e.getMessage()), Instant.now()));
        }
        Attributes main = mf == null ? null : mf.getMainAttributes();
        String bsn = main == null ? null : main.getValue(Constants.BUNDLE_SYMBOLICNAME);
        if (bsn == null || bsn.isBlank()) {
            return record(new Deployment(name, "", "", hash, State.FAILED, -1, "", -1,
                    "not a bundle: no Bundle-SymbolicName", Instant.now()));
        }
        bsn = bsn.split(";")[0].trim();
        String version = main.getValue(Constants.BUNDLE_VERSION);
        version = version == null ? "0.0.0" : version.trim();
        if (bsn.equals(context.getBundle().getSymbolicName()) || bsn.equals(context.getBundle(0).getSymbolicName())) {
            return record(new Deployment(name, bsn, version, hash, State.FAILED, -1, "", -1,
                    "the runtime itself cannot be hot-deployed; restart it with the new build", Instant.now()));
        }
        List<Bundle> olds = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            if (bsn.equals(b.getSymbolicName()) && b.getState() != Bundle.UNINSTALLED) {
                olds.add(b);
            }
        }
        Bundle neu;
        try (InputStream in = Files.newInputStream(jar)) {
            neu = context.installBundle(location, in);
        } catch (BundleException | IOException | RuntimeException e) {
            String why = "cannot install: " + oneLine(e.getMessage());
            if (e instanceof BundleException be && be.getType() == BundleException.DUPLICATE_BUNDLE_ERROR) {
                why += " (a build of the same version is installed; the framework needs "
                        + "org.osgi.framework.bsnversion=multiple to keep both)";
            }
            return fail(name, bsn, version, hash, olds, why);
        }
        matchStartLevel(neu, olds);
        if (olds.isEmpty()) {
            try {
                neu.start();
            } catch (BundleException | RuntimeException e) {
                discard(neu);
                return fail(name, bsn, version, hash, olds, "does not start: " + oneLine(e.getMessage()));
            }
            LOG.log(Level.INFO, "deployed {0} {1} from {2} as bundle {3}", bsn, version, name, neu.getBundleId());
            return record(new Deployment(name, bsn, version, hash, State.INSTALLED, neu.getBundleId(), "", -1,
                    "installed and started", Instant.now()));
        }
        return swap(name, bsn, version, hash, neu, olds, (System.nanoTime() - picked) / 1_000_000);
    }

    private Deployment swap(String name, String bsn, String version, String hash, Bundle neu, List<Bundle> olds,
            long installMillis) {
        Set<Expect> expected = new LinkedHashSet<>();
        for (Bundle old : olds) {
            expected.addAll(serving(old));
        }
        // A network provider owns single-writer state (the VIF store's lock, firewall rules it revokes on close):
        // two builds cannot run side by side, so the old one hands over and comes back if the new one fails.
        boolean handover = expected.stream().anyMatch(e -> HANDOVER.contains(e.objectClass()));
        long t0 = System.nanoTime();
        FrameworkWiring fw = context.getBundle(0).adapt(FrameworkWiring.class);
        if (handover && fw != null && !fw.resolveBundles(List.of(neu))) {
            // no need to interrupt the old build for one that cannot even resolve; start() says what is missing
            String problem = startAndAwait(neu, expected);
            discard(neu);
            return fail(name, bsn, version, hash, olds, problem == null ? "does not resolve" : problem);
        }
        if (handover) {
            for (Bundle old : olds) {
                try {
                    old.stop(Bundle.STOP_TRANSIENT);
                } catch (BundleException | RuntimeException e) {
                    LOG.log(Level.WARNING, "cannot stop {0} for the handover: {1}", describe(old), e.getMessage());
                }
            }
        }
        String problem = startAndAwait(neu, expected);
        if (problem != null) {
            discard(neu);
            if (handover) {
                List<String> back = new ArrayList<>();
                for (Bundle old : olds) {
                    try {
                        old.start(Bundle.START_TRANSIENT);
                        back.add(describe(old));
                    } catch (BundleException | RuntimeException e) {
                        problem += "; restarting " + describe(old) + " failed: " + oneLine(e.getMessage());
                    }
                }
                problem += back.isEmpty() ? "" : "; handed back to the previous build";
            }
            return fail(name, bsn, version, hash, olds, problem);
        }
        List<String> replaced = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (Bundle old : olds) {
            replaced.add(describe(old));
            try {
                old.stop();
            } catch (BundleException | RuntimeException e) {
                problems.add("stopping " + describe(old) + ": " + oneLine(e.getMessage()));
            }
            try {
                old.uninstall();
            } catch (BundleException | RuntimeException e) {
                problems.add("uninstalling " + describe(old) + ": " + oneLine(e.getMessage()));
            }
        }
        refresh(olds);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        String reason = (handover ? "handed over; " : "") + "serves "
                + (expected.isEmpty() ? "(the old build registered no Berth service)"
                        : String.join(", ", expected.stream().map(Expect::describe).toList()))
                + " (installed in " + installMillis + " ms before the switch)"
                + (problems.isEmpty() ? "" : "; " + String.join("; ", problems));
        LOG.log(Level.INFO, "switched {0} to {1} (bundle {2}) in {3} ms, replacing {4}", bsn, version,
                neu.getBundleId(), ms, String.join(", ", replaced));
        return record(new Deployment(name, bsn, version, hash, State.SWITCHED, neu.getBundleId(),
                String.join(", ", replaced), ms, reason, Instant.now()));
    }

    /** @return null once {@code neu} is active and registers every expected service, else why not */
    private String startAndAwait(Bundle neu, Set<Expect> expected) {
        long t0 = System.nanoTime();
        try {
            neu.start();
        } catch (BundleException | RuntimeException e) {
            return "does not start: " + oneLine(e.getMessage());
        }
        long deadline = t0 + serveTimeout.toNanos();
        Set<Expect> missing = new LinkedHashSet<>(expected);
        while (true) {
            if (neu.getState() == Bundle.ACTIVE) {
                missing.removeAll(serving(neu));
                if (missing.isEmpty()) {
                    return null;
                }
            }
            if (System.nanoTime() - deadline > 0) {
                return (neu.getState() == Bundle.ACTIVE
                        ? "registered no " + String.join(", ", missing.stream().map(Expect::describe).toList())
                        : "did not become active") + " within " + serveTimeout.toSeconds() + " s";
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted while waiting for it to serve";
            }
        }
    }

    /** The Berth services {@code b} registers now. */
    private static Set<Expect> serving(Bundle b) {
        Set<Expect> out = new LinkedHashSet<>();
        ServiceReference<?>[] refs;
        try {
            refs = b.getRegisteredServices();
        } catch (IllegalStateException e) {
            return out;
        }
        if (refs == null) {
            return out;
        }
        for (ServiceReference<?> r : refs) {
            if (!(r.getProperty(Constants.OBJECTCLASS) instanceof String[] classes)) {
                continue;
            }
            for (String c : classes) {
                String key = SERVING.get(c);
                if (key != null) {
                    out.add(new Expect(c, key, key.isEmpty() ? "" : String.valueOf(r.getProperty(key))));
                }
            }
        }
        return out;
    }

    /** A new build starts at the level of the one it replaces, never above the framework's current level. */
    private void matchStartLevel(Bundle neu, List<Bundle> olds) {
        try {
            int active = context.getBundle(0).adapt(FrameworkStartLevel.class).getStartLevel();
            int level = olds.isEmpty() ? neu.adapt(BundleStartLevel.class).getStartLevel()
                    : olds.get(0).adapt(BundleStartLevel.class).getStartLevel();
            neu.adapt(BundleStartLevel.class).setStartLevel(Math.max(1, Math.min(level, active)));
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "start level not adjusted: {0}", e.getMessage());
        }
    }

    private Deployment removed(String name) {
        List<Bundle> mine = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            if (b.getLocation().startsWith(LOCATION_PREFIX + name + "#") && b.getState() != Bundle.UNINSTALLED) {
                mine.add(b);
            }
        }
        if (mine.isEmpty()) {
            synchronized (this) {
                current.remove(name);
            }
            return null;
        }
        Bundle b = mine.get(0);
        String bsn = b.getSymbolicName();
        String version = b.getVersion().toString();
        long id = b.getBundleId();
        for (Bundle m : mine) {
            discard(m);
        }
        LOG.log(Level.INFO, "{0} left {1}: uninstalled bundle {2}", name, folder, id);
        return record(new Deployment(name, bsn, version, "", State.REMOVED, -1, bsn + " " + version + " [" + id + "]",
                -1, "the jar was removed from the deploy folder", Instant.now()));
    }

    private Deployment fail(String name, String bsn, String version, String hash, List<Bundle> olds, String why) {
        String kept = olds.isEmpty() ? "nothing was installed"
                : "keeps serving: " + String.join(", ", olds.stream().map(BundleDeployer::describe).toList());
        LOG.log(Level.ERROR, "deploy of {0} ({1} {2}) refused: {3}; {4}", name, bsn, version, why, kept);
        long id = olds.isEmpty() ? -1 : olds.get(0).getBundleId();
        return record(new Deployment(name, bsn, version, hash, State.FAILED, id, "", -1, why + "; " + kept,
                Instant.now()));
    }

    private void discard(Bundle b) {
        try {
            b.uninstall();
        } catch (BundleException | RuntimeException e) {
            LOG.log(Level.WARNING, "cannot uninstall {0}: {1}", describe(b), e.getMessage());
        }
        refresh(List.of(b));
    }

    /** Lets the framework drop the class loaders of uninstalled builds; waits a bounded time for it. */
    private void refresh(List<Bundle> bundles) {
        FrameworkWiring fw = context.getBundle(0).adapt(FrameworkWiring.class);
        if (fw == null) {
            return;
        }
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        try {
            fw.refreshBundles(bundles, event -> done.countDown());
            done.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "refresh after uninstall failed: {0}", e.getMessage());
        }
    }

    private synchronized Deployment record(Deployment d) {
        current.put(d.file(), d);
        history.addLast(d);
        while (history.size() > HISTORY) {
            history.removeFirst();
        }
        return d;
    }

    static String describe(Bundle b) {
        Version v = b.getVersion();
        return b.getSymbolicName() + " " + v + " [" + b.getBundleId() + "]";
    }

    static String oneLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        String t = s.replaceAll("\\s+", " ").trim();
        // Felix repeats the missing requirement in a second sentence
        int dup = t.indexOf(" Unresolved requirements:");
        t = dup > 0 ? t.substring(0, dup) : t;
        return t.length() > 400 ? t.substring(0, 400) + "..." : t;
    }

    /** A zip's central directory is written last: a jar that opens as a zip has been written to the end. */
    static boolean complete(Path jar) {
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(jar.toFile())) {
            return z.size() > 0;
        } catch (IOException e) {
            return false;
        }
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[65536];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest()).substring(0, 16);
    }
}
