package berth.network.bridge.internal;

import berth.driver.api.ConflictException;
import berth.driver.api.EngineException;
import berth.driver.api.InvalidInputException;
import berth.driver.api.Vif;
import berth.driver.api.io.DurableFiles;
import java.io.Closeable;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Durable VIF records: one small file per VIF under {@code <dir>/<network>/<vif id>.vif}, each written with
 * {@link DurableFiles} before the VIF is returned. An address is free only when no file names it, so neither a
 * restart nor a kill -9 can hand it out twice. One file per VIF keeps every allocation O(1) in disk writes however
 * large the network. A lock file keeps a second process off the same directory.
 */
final class VifStore implements Closeable {

    /** A VIF and who it belongs to. */
    record Entry(Vif vif, String instanceId, boolean adopted) {
    }

    private static final System.Logger LOG = System.getLogger(VifStore.class.getName());
    private static final String SUFFIX = ".vif";

    private final Path dir;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, Integer> cursor = new HashMap<>();

    /**
     * @param dir the {@code network/} state directory, created if missing
     * @throws ConflictException when another process holds the directory
     * @throws EngineException   when it cannot be read
     */
    VifStore(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
            lockChannel = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new EngineException("cannot open network state " + dir + ": " + e.getMessage(), e);
        }
        FileLock l;
        try {
            l = lockChannel.tryLock();
        } catch (IOException | OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            closeQuietly();
            throw new ConflictException("network state " + dir + " is in use by another process or component");
        }
        lock = l;
        try {
            load();
        } catch (IOException | RuntimeException e) {
            close();
            throw new EngineException("cannot read network state " + dir + ": " + e.getMessage(), e);
        }
    }

    private void load() throws IOException {
        try (DirectoryStream<Path> nets = Files.newDirectoryStream(dir, Files::isDirectory)) {
            for (Path net : nets) {
                try (DirectoryStream<Path> files = Files.newDirectoryStream(net)) {
                    for (Path f : files) {
                        String n = f.getFileName().toString();
                        if (n.startsWith(".") && n.endsWith(".tmp")) {
                            // A temporary file of a write interrupted by a crash: the rename never happened.
                            Files.deleteIfExists(f);
                        } else if (n.endsWith(SUFFIX)) {
                            try {
                                Entry e = parse(Files.readString(f, StandardCharsets.UTF_8));
                                entries.put(e.vif().id(), e);
                            } catch (RuntimeException ex) {
                                LOG.log(Level.ERROR, "ignoring unreadable VIF record " + f + ": " + ex.getMessage());
                            }
                        }
                    }
                }
            }
        }
    }

    synchronized List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    synchronized Optional<Entry> get(String vifId) {
        return Optional.ofNullable(entries.get(vifId));
    }

    synchronized int usedOn(NetworkSpec net) {
        return usedAddresses(net.name(), net.bridge()).size();
    }

    /**
     * Allocates a new VIF, or returns the instance's existing VIF for the same device on the same network (so a
     * retried boot gets the same address).
     */
    synchronized Vif allocate(NetworkSpec net, String instanceId, String device) {
        Names.instance(instanceId);
        Names.device(device);
        for (Entry e : entries.values()) {
            if (e.instanceId().equals(instanceId) && e.vif().device().equals(device)) {
                if (e.vif().network().equals(net.name())) {
                    return e.vif();
                }
                throw new ConflictException("instance " + instanceId + " already has " + device + " on network "
                        + e.vif().network());
            }
        }
        Set<Integer> used = usedAddresses(net.name(), net.bridge());
        used.add(net.gateway());
        Subnet s = net.subnet();
        if (used.size() - 1 >= net.capacity()) {
            throw new ConflictException("network " + net.name() + " has no free address");
        }
        // Next-fit from the last allocation, so a just-released address is not handed out at once (stale ARP).
        int first = s.firstHost();
        int n = s.lastHost() - first + 1;
        int start = cursor.getOrDefault(net.name(), first);
        if (start < first || start > s.lastHost()) {
            start = first;
        }
        int address = 0;
        for (int i = 0; i < n; i++) {
            int a = first + Math.floorMod(start - first + i, n);
            if (!used.contains(a)) {
                address = a;
                break;
            }
        }
        if (address == 0) {
            throw new ConflictException("network " + net.name() + " has no free address");
        }
        String id;
        do {
            id = UUID.randomUUID().toString();
        } while (hostEndTaken(Names.hostEnd(id)));
        Vif vif = new Vif(id, net.name(), net.bridge(), newMac(), Subnet.format(address), s.prefix(),
                net.gatewayAddress(), net.dns(), net.mtu(), device);
        Entry e = new Entry(vif, instanceId, false);
        persist(e);
        entries.put(id, e);
        cursor.put(net.name(), address + 1);
        return vif;
    }

    /**
     * Records a VIF allocated elsewhere.
     *
     * @param known the network of that name when Berth has one, else null
     */
    synchronized Vif adopt(Vif vif, String instanceId, NetworkSpec known) {
        Names.vifId(vif.id());
        Names.instance(instanceId);
        Names.network(vif.network());
        Names.device(vif.device());
        Entry existing = entries.get(vif.id());
        if (existing != null) {
            if (existing.vif().equals(vif) && existing.instanceId().equals(instanceId)) {
                return vif;
            }
            throw new ConflictException("VIF " + vif.id() + " is already recorded with other settings");
        }
        int address = Subnet.parseAddress(vif.address());
        Subnet own = new Subnet(address, vif.prefix());
        if (!own.containsHost(address)) {
            throw new InvalidInputException("address " + vif.cidr() + " is not a host address");
        }
        if (vif.gateway() != null && (!own.containsHost(Subnet.parseAddress(vif.gateway()))
                || vif.gateway().equals(vif.address()))) {
            throw new InvalidInputException("gateway " + vif.gateway() + " is not another host of " + own);
        }
        if (known != null) {
            if (!known.subnet().containsHost(address) || known.subnet().prefix() != vif.prefix()) {
                throw new InvalidInputException("address " + vif.cidr() + " is not in network " + known.name() + " ("
                        + known.subnet() + ")");
            }
            if (address == known.gateway()) {
                throw new ConflictException("address " + vif.address() + " is the gateway of " + known.name());
            }
        }
        for (Entry e : entries.values()) {
            Vif o = e.vif();
            if (o.mac().equals(vif.mac())) {
                throw new ConflictException("MAC " + vif.mac() + " is already used by VIF " + o.id());
            }
            if (o.address().equals(vif.address())
                    && (o.network().equals(vif.network()) || o.bridge().equals(vif.bridge()))) {
                throw new ConflictException("address " + vif.address() + " is already used by VIF " + o.id());
            }
            if (Names.hostEnd(o.id()).equals(Names.hostEnd(vif.id()))) {
                throw new ConflictException("VIF id " + vif.id() + " maps to the same host interface as " + o.id());
            }
        }
        Entry e = new Entry(vif, instanceId, true);
        persist(e);
        entries.put(vif.id(), e);
        return vif;
    }

    /** Forgets a VIF durably; returns what was recorded. */
    synchronized Optional<Entry> release(String vifId) {
        Entry e = entries.get(vifId);
        if (e == null) {
            return Optional.empty();
        }
        try {
            DurableFiles.delete(file(e.vif()));
        } catch (IOException ex) {
            throw new EngineException("cannot free VIF " + vifId + ": " + ex.getMessage(), ex);
        }
        entries.remove(vifId);
        return Optional.of(e);
    }

    private boolean hostEndTaken(String hostEnd) {
        for (Entry e : entries.values()) {
            if (Names.hostEnd(e.vif().id()).equals(hostEnd)) {
                return true;
            }
        }
        return false;
    }

    private Set<Integer> usedAddresses(String network, String bridge) {
        Set<Integer> used = new HashSet<>();
        for (Entry e : entries.values()) {
            if (e.vif().network().equals(network) || e.vif().bridge().equals(bridge)) {
                used.add(Subnet.parseAddress(e.vif().address()));
            }
        }
        return used;
    }

    private String newMac() {
        Set<String> taken = new HashSet<>();
        entries.values().forEach(e -> taken.add(e.vif().mac()));
        byte[] b = new byte[5];
        for (int attempt = 0; attempt < 1000; attempt++) {
            random.nextBytes(b);
            // 02: locally administered, unicast: never collides with a vendor-assigned MAC.
            String mac = String.format("02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4]);
            if (!taken.contains(mac)) {
                return mac;
            }
        }
        throw new IllegalStateException("no unique MAC address found");
    }

    private Path file(Vif vif) {
        return dir.resolve(vif.network()).resolve(vif.id() + SUFFIX);
    }

    private void persist(Entry e) {
        Path f = file(e.vif());
        try {
            Path netDir = f.getParent();
            if (!Files.isDirectory(netDir)) {
                Files.createDirectories(netDir);
                DurableFiles.syncDirectory(dir);
            }
            DurableFiles.write(f, format(e).getBytes(StandardCharsets.UTF_8));
        } catch (IOException ex) {
            throw new EngineException("cannot record VIF " + e.vif().id() + ": " + ex.getMessage(), ex);
        }
    }

    static String format(Entry e) {
        Vif v = e.vif();
        StringBuilder sb = new StringBuilder();
        sb.append("id=").append(v.id()).append('\n');
        sb.append("instance=").append(e.instanceId()).append('\n');
        sb.append("adopted=").append(e.adopted()).append('\n');
        sb.append("network=").append(v.network()).append('\n');
        sb.append("bridge=").append(v.bridge()).append('\n');
        sb.append("mac=").append(v.mac()).append('\n');
        sb.append("address=").append(v.address()).append('\n');
        sb.append("prefix=").append(v.prefix()).append('\n');
        sb.append("gateway=").append(v.gateway() == null ? "" : v.gateway()).append('\n');
        sb.append("dns=").append(String.join(",", v.dns())).append('\n');
        sb.append("mtu=").append(v.mtu()).append('\n');
        sb.append("device=").append(v.device()).append('\n');
        return sb.toString();
    }

    static Entry parse(String text) {
        Map<String, String> m = new HashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        for (String k : List.of("id", "instance", "network", "bridge", "mac", "address", "prefix", "mtu", "device")) {
            if (!m.containsKey(k)) {
                throw new IllegalArgumentException("missing " + k);
            }
        }
        String gw = m.getOrDefault("gateway", "");
        String dns = m.getOrDefault("dns", "");
        List<String> servers = new ArrayList<>();
        for (String d : dns.split(",")) {
            if (!d.isBlank()) {
                servers.add(d);
            }
        }
        Vif v = new Vif(m.get("id"), m.get("network"), m.get("bridge"), m.get("mac"), m.get("address"),
                Integer.parseInt(m.get("prefix")), gw.isEmpty() ? null : gw, servers, Integer.parseInt(m.get("mtu")),
                m.get("device"));
        return new Entry(v, Names.instance(m.get("instance")), Boolean.parseBoolean(m.get("adopted")));
    }

    synchronized List<Entry> sorted() {
        List<Entry> l = new ArrayList<>(entries.values());
        l.sort(Comparator.comparing((Entry e) -> e.vif().network())
                .thenComparing(e -> Integer.toUnsignedLong(Subnet.parseAddress(e.vif().address()))));
        return l;
    }

    @Override
    public synchronized void close() {
        try {
            if (lock != null && lock.isValid()) {
                lock.release();
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot release " + dir + "/.lock: " + e.getMessage());
        }
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            lockChannel.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot close " + dir + "/.lock: " + e.getMessage());
        }
    }
}
