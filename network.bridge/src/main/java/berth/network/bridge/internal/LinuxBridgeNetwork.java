package berth.network.bridge.internal;

import berth.driver.api.BackendUnavailableException;
import berth.driver.api.ConflictException;
import berth.driver.api.EngineException;
import berth.driver.api.InvalidInputException;
import berth.driver.api.Network;
import berth.driver.api.NotFoundException;
import berth.driver.api.Vif;
import berth.driver.api.spi.NetworkProvider;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Linux-bridge networking: named networks (a default one on embedded settings plus factory configurations
 * {@code berth.network}), durable VIF records under {@code ${berth.state.dir}/network/}, and veth pairs plugged into
 * an instance's network namespace by the pid of its init.
 *
 * <p>The public methods beyond {@link NetworkProvider} are for the shell (Gogo scope {@code bridge}) and the compute
 * manager's reconcile: {@link #network(String)}, {@link #vifs()}, {@link #vifsOf(String)}, {@link #instanceOf(String)},
 * {@link #strays()}, {@link #removeStrays()}, {@link #releaseOrphans(Collection)}, {@link #problems()},
 * {@link #refreshFirewall()}.
 */
@Component(service = NetworkProvider.class, configurationPid = LinuxBridgeNetwork.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL,
        property = {"osgi.command.scope=bridge",
            "osgi.command.function=networks", "osgi.command.function=network", "osgi.command.function=vifs",
            "osgi.command.function=vifsOf", "osgi.command.function=instanceOf",
            "osgi.command.function=strays", "osgi.command.function=removeStrays",
            "osgi.command.function=problems", "osgi.command.function=refreshFirewall"})
@Designate(ocd = LinuxBridgeNetwork.Config.class)
public final class LinuxBridgeNetwork implements NetworkProvider {

    static final String PID = "berth.network.bridge";
    static final String DEFAULT_NAME = "default";
    static final String DEFAULT_BRIDGE = "berth0";
    /** A /24 in 10/8 well away from docker0 (172.17/16) and podman (10.88/16). */
    static final String DEFAULT_CIDR = "10.120.0.0/24";

    /** Settings of the default network and the tools; each empty value falls back to a framework property. */
    @ObjectClassDefinition(id = PID, name = "Berth Linux-bridge networking")
    public @interface Config {
        @AttributeDefinition(description = "Create the default network", required = false)
        boolean default_enabled() default true;

        @AttributeDefinition(description = "Default bridge; empty: berth.network.default.bridge or berth0",
                required = false)
        String default_bridge() default "";

        @AttributeDefinition(description = "Default subnet; empty: berth.network.default.cidr or " + DEFAULT_CIDR,
                required = false)
        String default_cidr() default "";

        @AttributeDefinition(description = "Default gateway; empty for the first host", required = false)
        String default_gateway() default "";

        @AttributeDefinition(description = "DNS servers of the default network", required = false)
        String[] default_dns() default {};

        @AttributeDefinition(description = "MTU of the default network", required = false)
        int default_mtu() default NetworkSpec.DEFAULT_MTU;

        @AttributeDefinition(description = "Add DOCKER-USER ACCEPT rules for Berth bridges where dockerd manages "
                + "iptables", required = false)
        boolean firewall() default true;

        @AttributeDefinition(description = "State directory; empty: berth.state.dir or /var/lib/berth",
                required = false)
        String state_dir() default "";

        @AttributeDefinition(description = "Scope; empty: berth.scope or default", required = false)
        String scope() default "";
    }

    /**
     * Everything the component needs, resolved; tests build it directly.
     *
     * @param stateDir       the {@code network/} state directory
     * @param scope          Berth scope (written into host-end aliases and iptables comments)
     * @param defaultNetwork the default network, or null for none
     * @param firewall       whether to manage DOCKER-USER rules
     * @param commands       tool paths
     */
    public record Settings(Path stateDir, String scope, NetworkSpec defaultNetwork, boolean firewall,
            Commands commands) {
        public Settings {
            Objects.requireNonNull(stateDir, "stateDir");
            Names.scope(scope);
            Objects.requireNonNull(commands, "commands");
        }

        /** Resolves configuration over framework properties over embedded defaults. */
        static Settings from(Config cfg, Function<String, String> props) {
            String state = pick(cfg.state_dir(), props.apply("berth.state.dir"), "/var/lib/berth");
            String scope = pick(cfg.scope(), props.apply("berth.scope"), "default");
            NetworkSpec def = null;
            if (cfg.default_enabled() && !"false".equals(props.apply("berth.network.default.enabled"))) {
                def = NetworkSpec.of(DEFAULT_NAME,
                        pick(cfg.default_bridge(), props.apply("berth.network.default.bridge"), DEFAULT_BRIDGE),
                        pick(cfg.default_cidr(), props.apply("berth.network.default.cidr"), DEFAULT_CIDR),
                        cfg.default_gateway(), cfg.default_dns() == null ? null : Arrays.asList(cfg.default_dns()),
                        cfg.default_mtu());
            }
            boolean fw = cfg.firewall() && !"false".equals(props.apply("berth.network.firewall"));
            return new Settings(Path.of(state, "network"), scope, def, fw,
                    Commands.locate(props.apply("berth.network.ip"), props.apply("berth.network.nsenter"),
                            props.apply("berth.network.iptables")));
        }

        private static String pick(String configured, String property, String fallback) {
            if (configured != null && !configured.isBlank()) {
                return configured.strip();
            }
            if (property != null && !property.isBlank()) {
                return property.strip();
            }
            return fallback;
        }
    }

    private static final System.Logger LOG = System.getLogger(LinuxBridgeNetwork.class.getName());

    private final Settings settings;
    private final VifStore store;
    private final Links links;
    private final DockerUserFirewall firewall;
    private final Map<String, NetworkSpec> networks = new LinkedHashMap<>();
    private final Map<String, String> problems = new LinkedHashMap<>();
    private final Object[] vifLocks = new Object[64];

    /**
     * @param ctx bundle context, for framework properties
     * @param cfg configuration
     */
    @Activate
    public LinuxBridgeNetwork(BundleContext ctx, Config cfg) {
        this(Settings.from(cfg, ctx::getProperty));
    }

    /**
     * @param settings resolved settings
     */
    public LinuxBridgeNetwork(Settings settings) {
        this.settings = settings;
        for (int i = 0; i < vifLocks.length; i++) {
            vifLocks[i] = new Object();
        }
        this.links = new Links(settings.commands());
        this.firewall = settings.firewall() ? new DockerUserFirewall(settings.commands(), settings.scope()) : null;
        this.store = new VifStore(settings.stateDir());
        if (settings.defaultNetwork() != null) {
            tryAdd(settings.defaultNetwork());
        }
    }

    /*
     * The DOCKER-USER rules stay: instances keep running while the runtime is stopped, restarted or this bundle is
     * replaced, and without the rule dockerd's FORWARD DROP cuts them off from each other. A rule goes only with its
     * network (removeNetwork).
     */
    @Deactivate
    void close() {
        store.close();
    }

    @Reference(service = NetworkDefinition.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindNetwork(NetworkDefinition def) {
        tryAdd(def.spec());
    }

    void unbindNetwork(NetworkDefinition def) {
        synchronized (this) {
            NetworkSpec current = networks.get(def.spec().name());
            if (current != null && current.equals(def.spec())) {
                removeNetwork(current.name());
            } else if (current == null) {
                problems.remove(def.spec().name());
            }
        }
    }

    private void tryAdd(NetworkSpec spec) {
        try {
            addNetwork(spec);
        } catch (RuntimeException e) {
            synchronized (this) {
                problems.put(spec.name(), e.getMessage());
            }
            LOG.log(Level.ERROR, "network " + spec.name() + " is unavailable: " + e.getMessage());
        }
    }

    /**
     * Adds a network: checks it against the other networks and the host's addresses, creates its bridge if missing
     * and lets its traffic through dockerd's firewall.
     *
     * @throws InvalidInputException on a duplicate name or bridge, or an overlapping subnet
     * @throws ConflictException     when the bridge exists with other settings
     */
    public synchronized void addNetwork(NetworkSpec spec) {
        if (networks.containsKey(spec.name())) {
            throw new InvalidInputException("network " + spec.name() + " already exists");
        }
        for (NetworkSpec o : networks.values()) {
            if (o.bridge().equals(spec.bridge())) {
                throw new InvalidInputException("bridge " + spec.bridge() + " already belongs to network " + o.name());
            }
            if (o.subnet().overlaps(spec.subnet())) {
                throw new InvalidInputException("subnet " + spec.subnet() + " of network " + spec.name()
                        + " overlaps network " + o.name() + " (" + o.subnet() + ")");
            }
        }
        for (String[] hs : Links.hostSubnets(spec.bridge())) {
            String[] parts = hs[1].split("/");
            Subnet s = new Subnet(Subnet.parseAddress(parts[0]), Integer.parseInt(parts[1]));
            if (s.overlaps(spec.subnet())) {
                throw new InvalidInputException("subnet " + spec.subnet() + " of network " + spec.name()
                        + " overlaps " + hs[1] + " on " + hs[0]);
            }
        }
        links.ensureBridge(spec);
        if (firewall != null) {
            firewall.allow(spec.bridge());
        }
        networks.put(spec.name(), spec);
        problems.remove(spec.name());
    }

    /**
     * Forgets a network and removes its firewall rule. The bridge stays: instances on it keep their host ends.
     */
    public synchronized void removeNetwork(String name) {
        NetworkSpec spec = networks.remove(name);
        problems.remove(name);
        if (spec != null && firewall != null) {
            firewall.revoke(spec.bridge());
        }
    }

    @Override
    public synchronized List<Network> networks() {
        List<Network> l = new ArrayList<>();
        for (NetworkSpec s : networks.values()) {
            l.add(s.toNetwork(store.usedOn(s)));
        }
        return l;
    }

    /**
     * @param name network name
     * @return the network
     * @throws NotFoundException when there is none of that name
     */
    public synchronized Network network(String name) {
        return spec(name).toNetwork(store.usedOn(spec(name)));
    }

    /** @return networks that could not be set up, name to reason */
    public synchronized Map<String, String> problems() {
        return Map.copyOf(problems);
    }

    private synchronized NetworkSpec spec(String name) {
        NetworkSpec s = networks.get(name);
        if (s == null) {
            String why = problems.get(name);
            if (why != null) {
                throw new BackendUnavailableException("network " + name + " is unavailable: " + why);
            }
            throw new NotFoundException("no network named '" + name + "'");
        }
        return s;
    }

    private synchronized Optional<NetworkSpec> specByBridge(String bridge) {
        return networks.values().stream().filter(s -> s.bridge().equals(bridge)).findFirst();
    }

    @Override
    public Vif allocate(String network, String instanceId, String device) {
        return store.allocate(spec(Names.network(network)), instanceId, device);
    }

    @Override
    public Vif adopt(Vif vif, String instanceId) {
        NetworkSpec known;
        synchronized (this) {
            known = networks.get(vif.network());
        }
        if (known != null && !known.bridge().equals(vif.bridge())) {
            throw new InvalidInputException("VIF " + vif.id() + " names bridge " + vif.bridge() + " but network "
                    + known.name() + " uses " + known.bridge());
        }
        return store.adopt(vif, instanceId, known);
    }

    @Override
    public void release(Vif vif) {
        synchronized (lockFor(vif.id())) {
            unplug(vif);
            store.release(vif.id());
        }
    }

    @Override
    public void plug(Vif vif, long initPid) {
        Objects.requireNonNull(vif, "vif");
        Names.device(vif.device());
        Names.bridge(vif.bridge());
        if (initPid <= 1) {
            throw new InvalidInputException("invalid init pid " + initPid);
        }
        Path ns = Path.of("/proc", Long.toString(initPid), "ns", "net");
        String target;
        String own;
        try {
            target = Files.readSymbolicLink(ns).toString();
            own = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        } catch (IOException e) {
            throw new EngineException("cannot plug VIF " + vif.id() + ": process " + initPid + " does not exist");
        }
        if (target.equals(own)) {
            throw new InvalidInputException("process " + initPid + " is in the host's network namespace; refusing "
                    + "to plug VIF " + vif.id() + " there");
        }
        if (!Links.exists(vif.bridge())) {
            NetworkSpec spec = specByBridge(vif.bridge())
                    .orElseThrow(() -> new EngineException("bridge " + vif.bridge() + " of VIF " + vif.id()
                            + " does not exist"));
            synchronized (this) {
                // After a host reboot the bridge is gone while the records remain: make it again.
                links.ensureBridge(spec);
                if (firewall != null) {
                    firewall.allow(spec.bridge());
                }
            }
        } else if (!Links.isBridge(vif.bridge())) {
            throw new EngineException("interface " + vif.bridge() + " of VIF " + vif.id() + " is not a bridge");
        }
        String hostEnd = Names.hostEnd(vif.id());
        String alias = Names.alias(settings.scope(), vif.id());
        synchronized (lockFor(vif.id())) {
            boolean replace = Links.exists(hostEnd);
            if (replace) {
                requireOurs(hostEnd, alias);
            }
            boolean first = vif.device().equals("eth0") || !hasDefaultRoute(initPid);
            links.plug(vif, initPid, hostEnd, alias, replace, first);
            if (first) {
                writeResolvConf(vif, initPid);
            }
        }
    }

    @Override
    public void unplug(Vif vif) {
        String hostEnd = Names.hostEnd(vif.id());
        synchronized (lockFor(vif.id())) {
            if (Links.exists(hostEnd)) {
                requireOurs(hostEnd, Names.alias(settings.scope(), vif.id()));
                links.deleteLink(hostEnd);
            }
        }
    }

    /**
     * @param vif a VIF
     * @return whether its host end exists now
     */
    public boolean plugged(Vif vif) {
        String h = Names.hostEnd(vif.id());
        return Links.exists(h) && Names.alias(settings.scope(), vif.id()).equals(Links.alias(h));
    }

    /**
     * @param vif a VIF
     * @return the name of its host end
     */
    public String hostEnd(Vif vif) {
        return Names.hostEnd(vif.id());
    }

    /** @return every VIF recorded, by network and address */
    public List<Vif> vifs() {
        return store.sorted().stream().map(VifStore.Entry::vif).toList();
    }

    /**
     * @param instanceId instance uuid
     * @return that instance's VIFs
     */
    public List<Vif> vifsOf(String instanceId) {
        return store.sorted().stream().filter(e -> e.instanceId().equals(instanceId)).map(VifStore.Entry::vif)
                .toList();
    }

    /**
     * @param vifId VIF id
     * @return the instance the VIF belongs to
     * @throws NotFoundException when the VIF is unknown
     */
    public String instanceOf(String vifId) {
        return store.get(vifId).map(VifStore.Entry::instanceId)
                .orElseThrow(() -> new NotFoundException("no VIF " + vifId));
    }

    /**
     * Host ends of this scope (name {@code bv…}, alias {@code berth:<scope>:<vif id>}) whose VIF is not recorded:
     * left behind by a crash between plug and record, or by a release that could not reach the link.
     *
     * @return their names
     */
    @Override
    public List<String> strays() {
        String prefix = "berth:" + settings.scope() + ":";
        List<String> l = new ArrayList<>();
        for (String h : Links.hostEnds()) {
            String a = Links.alias(h);
            if (a.startsWith(prefix) && store.get(a.substring(prefix.length())).isEmpty()) {
                l.add(h);
            }
        }
        return l;
    }

    /**
     * Deletes the {@link #strays()} in one {@code ip} process.
     *
     * @return the names deleted
     */
    @Override
    public List<String> removeStrays() {
        return links.deleteLinks(strays());
    }

    /**
     * Frees the VIFs (host end and address) of instances that no longer exist. Pass the registry's complete list:
     * every VIF of an instance missing from it is released.
     *
     * @param liveInstanceIds uuids of every instance that exists
     * @return the VIFs released
     */
    @Override
    public List<Vif> releaseOrphans(Collection<String> liveInstanceIds) {
        Set<String> live = Set.copyOf(liveInstanceIds);
        List<Vif> freed = new ArrayList<>();
        for (VifStore.Entry e : store.entries()) {
            if (!live.contains(e.instanceId())) {
                release(e.vif());
                freed.add(e.vif());
            }
        }
        return freed;
    }

    /**
     * Re-adds the DOCKER-USER rules of every network (for example after dockerd started later than Berth).
     *
     * @return bridges whose rule is in place
     */
    public synchronized List<String> refreshFirewall() {
        List<String> ok = new ArrayList<>();
        if (firewall != null) {
            for (NetworkSpec s : networks.values()) {
                if (firewall.allow(s.bridge())) {
                    ok.add(s.bridge());
                }
            }
        }
        return ok;
    }

    private Object lockFor(String vifId) {
        return vifLocks[Math.floorMod(vifId.hashCode(), vifLocks.length)];
    }

    private void requireOurs(String hostEnd, String alias) {
        String a = Links.alias(hostEnd);
        // An empty alias is our own half-made host end (the alias is set right after the link is made).
        if (!a.isEmpty() && !a.equals(alias)) {
            throw new ConflictException("interface " + hostEnd + " exists and belongs to '" + a + "', not " + alias);
        }
    }

    /** Whether the namespace of pid has a default route, read from /proc without entering it. */
    static boolean hasDefaultRoute(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "net", "route"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 7 && f[1].equals("00000000") && f[7].equals("00000000")) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /**
     * Writes the VIF's DNS servers into the instance's {@code /etc/resolv.conf} through {@code /proc/<pid>/root}.
     * Skipped (with a log line) when the instance shares the host's root (a bare namespace), when {@code /etc} or
     * {@code resolv.conf} is a symbolic link (it would resolve against the host's root) or when there is nothing to
     * write. The file is rewritten in place because Docker bind-mounts it (a rename over it would fail).
     *
     * @return whether it was written
     */
    boolean writeResolvConf(Vif vif, long pid) {
        if (vif.dns().isEmpty()) {
            return false;
        }
        Path root = Path.of("/proc", Long.toString(pid), "root");
        try {
            if (Files.isSameFile(root, Path.of("/"))) {
                LOG.log(Level.DEBUG, "pid " + pid + " shares the host's root; resolv.conf left alone");
                return false;
            }
            Path etc = root.resolve("etc");
            if (!Files.isDirectory(etc, LinkOption.NOFOLLOW_LINKS)) {
                LOG.log(Level.INFO, "pid " + pid + " has no /etc directory; resolv.conf not written");
                return false;
            }
            Path f = etc.resolve("resolv.conf");
            if (Files.isSymbolicLink(f)) {
                LOG.log(Level.WARNING, "/etc/resolv.conf of pid " + pid + " is a symbolic link; not written");
                return false;
            }
            StringBuilder b = new StringBuilder("# written by Berth for VIF ").append(vif.id()).append('\n');
            vif.dns().forEach(d -> b.append("nameserver ").append(d).append('\n'));
            try (SeekableByteChannel ch = Files.newByteChannel(f, StandardOpenOption.WRITE, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS)) {
                ch.write(ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.US_ASCII)));
            }
            return true;
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot write resolv.conf of pid " + pid + ": " + e.getMessage());
            return false;
        }
    }

    Links links() {
        return links;
    }

    Settings settings() {
        return settings;
    }
}
