package berth.network.bridge.internal;

import berth.driver.api.ConflictException;
import berth.driver.api.EngineException;
import berth.driver.api.Vif;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * Bridges and veth pairs through iproute2. Reads (does a link exist, its alias, is it a bridge) go to sysfs and cost
 * no process; changes go through {@code ip -batch}, so a plug costs two processes: one in the host namespace, one
 * ({@code nsenter} exec'ing {@code ip}) in the instance's.
 */
final class Links {

    private static final Path SYS = Path.of("/sys/class/net");

    private final Commands cmd;
    /** Durations of the last plug's two steps, in nanoseconds, for the benchmark's breakdown. */
    volatile long lastHostStepNanos;
    volatile long lastNamespaceStepNanos;

    Links(Commands cmd) {
        this.cmd = cmd;
    }

    static boolean exists(String ifname) {
        return Files.exists(SYS.resolve(ifname));
    }

    static boolean isBridge(String ifname) {
        return Files.isDirectory(SYS.resolve(ifname).resolve("bridge"));
    }

    static String alias(String ifname) {
        try {
            return Files.readString(SYS.resolve(ifname).resolve("ifalias"), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return "";
        }
    }

    static boolean isUp(String ifname) {
        try {
            String flags = Files.readString(SYS.resolve(ifname).resolve("flags")).strip();
            return (Long.decode(flags) & 1) != 0;
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }

    /** Names of host ends (ours by name pattern, any scope) present now. */
    static List<String> hostEnds() {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(SYS)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (Names.HOST_END.matcher(n).matches()) {
                    names.add(n);
                }
            }
        } catch (IOException e) {
            throw new EngineException("cannot list network interfaces: " + e.getMessage(), e);
        }
        names.sort(null);
        return names;
    }

    /** IPv4 addresses (address/prefix) held by an interface. */
    static List<String> addresses(String ifname) {
        List<String> l = new ArrayList<>();
        try {
            NetworkInterface ni = NetworkInterface.getByName(ifname);
            if (ni != null) {
                for (InterfaceAddress a : ni.getInterfaceAddresses()) {
                    if (a.getAddress() instanceof Inet4Address) {
                        l.add(a.getAddress().getHostAddress() + "/" + a.getNetworkPrefixLength());
                    }
                }
            }
        } catch (SocketException e) {
            throw new EngineException("cannot read addresses of " + ifname + ": " + e.getMessage(), e);
        }
        return l;
    }

    /** Every IPv4 subnet on a host interface other than {@code except}, as "interface subnet" pairs. */
    static List<String[]> hostSubnets(String except) {
        List<String[]> l = new ArrayList<>();
        try {
            for (NetworkInterface ni : NetworkInterface.networkInterfaces().toList()) {
                if (ni.getName().equals(except)) {
                    continue;
                }
                for (InterfaceAddress a : ni.getInterfaceAddresses()) {
                    if (a.getAddress() instanceof Inet4Address && !a.getAddress().isLoopbackAddress()) {
                        l.add(new String[] {ni.getName(),
                                a.getAddress().getHostAddress() + "/" + a.getNetworkPrefixLength()});
                    }
                }
            }
        } catch (SocketException e) {
            throw new EngineException("cannot list host addresses: " + e.getMessage(), e);
        }
        return l;
    }

    /**
     * Creates the bridge with the gateway address if it is missing; accepts an existing one holding the gateway
     * address; refuses anything else.
     *
     * @return whether the bridge was created now
     */
    boolean ensureBridge(NetworkSpec net) {
        String br = net.bridge();
        if (exists(br)) {
            if (!isBridge(br)) {
                throw new ConflictException("interface " + br + " exists and is not a bridge (network " + net.name()
                        + ")");
            }
            List<String> have = addresses(br);
            if (!have.contains(net.gatewayCidr())) {
                throw new ConflictException("bridge " + br + " exists with addresses " + have + "; network "
                        + net.name() + " needs " + net.gatewayCidr());
            }
            if (!isUp(br)) {
                check(cmd.ipBatch("link set " + br + " up\n"), "cannot bring bridge " + br + " up");
            }
            return false;
        }
        // A fixed MAC keeps the bridge's address stable as ports come and go (else it follows the lowest port MAC).
        String batch = "link add " + br + " address " + bridgeMac(br) + " mtu " + net.mtu() + " type bridge\n"
                + "addr add " + net.gatewayCidr() + " dev " + br + "\n"
                + "link set " + br + " up\n";
        Commands.Result r = cmd.ipBatch(batch);
        if (!r.ok()) {
            if (exists(br)) {
                cmd.ipBatch("link del " + br + "\n");
            }
            throw new EngineException("cannot create bridge " + br + ": " + oneLine(r.output()));
        }
        return true;
    }

    void deleteLink(String ifname) {
        if (exists(ifname)) {
            Commands.Result r = cmd.ipBatch("link del " + ifname + "\n");
            if (!r.ok() && exists(ifname)) {
                throw new EngineException("cannot delete " + ifname + ": " + oneLine(r.output()));
            }
        }
    }

    private static void awaitGone(String ifname) {
        for (int i = 0; i < 100 && exists(ifname); i++) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EngineException("interrupted while waiting for " + ifname + " to go", e);
            }
        }
    }

    /** Deletes several links in one process; returns the ones gone afterwards. */
    List<String> deleteLinks(List<String> names) {
        if (names.isEmpty()) {
            return List.of();
        }
        StringBuilder b = new StringBuilder();
        names.forEach(n -> b.append("link del ").append(n).append('\n'));
        Commands.Result r = cmd.run(List.of(cmd.ip(), "-force", "-batch", "-"), b.toString());
        List<String> gone = new ArrayList<>();
        for (String n : names) {
            if (!exists(n)) {
                gone.add(n);
            }
        }
        if (gone.size() != names.size()) {
            throw new EngineException("cannot delete all of " + names + ": " + oneLine(r.output()));
        }
        return gone;
    }

    /**
     * Plugs a VIF: host end on the bridge, peer created straight inside the target namespace under its final name
     * and MAC (no rename, no move), then addressed there.
     *
     * @param replaceHostEnd whether a host end of this name exists and is to be replaced
     * @param defaultRoute   whether to set the default route through this device
     */
    void plug(Vif vif, long pid, String hostEnd, String alias, boolean replaceHostEnd, boolean defaultRoute) {
        if (replaceHostEnd) {
            // Separate from the batch: when the old namespace is dying the kernel may delete this link itself at any
            // moment, and a batch line "link del" would then fail.
            deleteLink(hostEnd);
            awaitGone(hostEnd);
        }
        StringBuilder host = new StringBuilder();
        host.append("link add ").append(hostEnd).append(" mtu ").append(vif.mtu()).append(" master ")
                .append(vif.bridge()).append(" up type veth peer name ").append(vif.device()).append(" address ")
                .append(vif.mac()).append(" mtu ").append(vif.mtu()).append(" netns ").append(pid).append('\n');
        host.append("link set ").append(hostEnd).append(" alias ").append(alias).append('\n');
        long t0 = System.nanoTime();
        Commands.Result r = cmd.ipBatch(host.toString());
        long t1 = System.nanoTime();
        lastHostStepNanos = t1 - t0;
        if (!r.ok()) {
            undo(hostEnd);
            throw new EngineException("cannot create " + hostEnd + " for VIF " + vif.id() + ": "
                    + oneLine(r.output()));
        }
        StringBuilder ns = new StringBuilder();
        ns.append("link set lo up\n");
        ns.append("addr add ").append(vif.cidr()).append(" brd + dev ").append(vif.device()).append('\n');
        ns.append("link set ").append(vif.device()).append(" up\n");
        if (defaultRoute && vif.gateway() != null) {
            ns.append("route replace default via ").append(vif.gateway()).append(" dev ").append(vif.device())
                    .append('\n');
        }
        r = cmd.ipBatchIn(pid, ns.toString());
        lastNamespaceStepNanos = System.nanoTime() - t1;
        if (!r.ok()) {
            undo(hostEnd);
            throw new EngineException("cannot configure " + vif.device() + " of VIF " + vif.id()
                    + " in the namespace of pid " + pid + ": " + oneLine(r.output()));
        }
    }

    private void undo(String hostEnd) {
        // Deleting the host end deletes its peer too, wherever it went.
        if (exists(hostEnd)) {
            cmd.ipBatch("link del " + hostEnd + "\n");
        }
    }

    static String bridgeMac(String bridge) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(bridge.getBytes(StandardCharsets.UTF_8));
            // 0a: locally administered unicast, and distinct from the 02: prefix of VIF MACs.
            return String.format("0a:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4]);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String oneLine(String output) {
        String s = output.replace('\n', ' ').replaceAll("\\s+", " ").strip();
        return s.isEmpty() ? "no output" : s;
    }

    private static void check(Commands.Result r, String what) {
        if (!r.ok()) {
            throw new EngineException(what + ": " + oneLine(r.output()));
        }
    }
}
