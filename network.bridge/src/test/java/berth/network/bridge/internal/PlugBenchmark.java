package berth.network.bridge.internal;

import berth.driver.api.Vif;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Benchmark (run by {@code bin/bench-net-plug}, not a test): time to plug one VIF with {@link LinuxBridgeNetwork}
 * (two processes: {@code ip -batch} on the host, {@code nsenter ip -batch} inside) against the raw iproute2
 * sequence nova-docker ran per VIF (eight processes), in the same run, on the same bridge, each into a fresh
 * namespace. Prints figures; asserts nothing about time.
 */
public final class PlugBenchmark {

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 25;
        int warm = 5;
        if (!NetTestSupport.isRoot()) {
            System.err.println("bench-net-plug needs root");
            System.exit(2);
        }
        Path state = Files.createTempDirectory("berth-bench-net");
        String scope = "bench" + NetTestSupport.randomHex(6);
        String bridge = "bt" + NetTestSupport.randomHex(8);
        String cidr = NetTestSupport.freeCidr();
        try (NetTestSupport env = new NetTestSupport()) {
            LinuxBridgeNetwork net = new LinuxBridgeNetwork(new LinuxBridgeNetwork.Settings(state.resolve("network"),
                    scope, NetworkSpec.of("default", bridge, cidr, "", List.of(), 1500), true, env.commands));
            List<String> hostEnds = new ArrayList<>();
            try {
                if (!net.problems().isEmpty()) {
                    throw new IllegalStateException(net.problems().toString());
                }
                System.out.printf("bridge %s %s, %d plugs each (+%d warm-up), launch mechanism %s%n", bridge, cidr, n,
                        warm, System.getProperty("jdk.lang.Process.launchMechanism", "default (POSIX_SPAWN)"));

                double[] berth = new double[n];
                double[] unplug = new double[n];
                double[] hostStep = new double[n];
                double[] nsStep = new double[n];
                for (int i = 0; i < n + warm; i++) {
                    Process p = env.namespace();
                    Vif v = net.allocate("default", "bench-" + i, "eth0");
                    long t0 = System.nanoTime();
                    net.plug(v, p.pid());
                    long t1 = System.nanoTime();
                    hostEnds.add(net.hostEnd(v));
                    if (i >= warm) {
                        berth[i - warm] = (t1 - t0) / 1e6;
                        hostStep[i - warm] = net.links().lastHostStepNanos / 1e6;
                        nsStep[i - warm] = net.links().lastNamespaceStepNanos / 1e6;
                    }
                }
                for (int i = 0; i < n + warm; i++) {
                    Vif v = net.vifsOf("bench-" + i).get(0);
                    long t0 = System.nanoTime();
                    net.unplug(v);
                    long t1 = System.nanoTime();
                    if (i >= warm) {
                        unplug[i - warm] = (t1 - t0) / 1e6;
                    }
                }

                Subnet s = Subnet.parseNetwork(cidr);
                String gw = Subnet.format(s.firstHost());
                double[] nova = new double[n];
                for (int i = 0; i < n + warm; i++) {
                    Process p = env.namespace();
                    String id = String.format("%011x", i + 0x1000);
                    String tap = "tap" + id.substring(0, 11);
                    String ns = "ns" + id.substring(0, 11);
                    String addr = Subnet.format(s.firstHost() + 100 + i) + "/" + s.prefix();
                    String mac = String.format("02:42:00:00:%02x:%02x", i >> 8, i & 255);
                    hostEnds.add(tap);
                    long t0 = System.nanoTime();
                    ip(env, "link", "add", "name", tap, "type", "veth", "peer", "name", ns);
                    ip(env, "link", "set", tap, "master", bridge);
                    ip(env, "link", "set", tap, "up");
                    ip(env, "link", "set", ns, "netns", Long.toString(p.pid()));
                    ipIn(env, p.pid(), "link", "set", ns, "address", mac);
                    ipIn(env, p.pid(), "addr", "add", addr, "dev", ns);
                    ipIn(env, p.pid(), "link", "set", ns, "up");
                    ipIn(env, p.pid(), "route", "replace", "default", "via", gw, "dev", ns);
                    long t1 = System.nanoTime();
                    if (i >= warm) {
                        nova[i - warm] = (t1 - t0) / 1e6;
                    }
                }
                report("berth plug (2 processes)", berth);
                report("  of which ip -batch on the host", hostStep);
                report("  of which nsenter ip -batch inside", nsStep);
                report("berth unplug (1 process)", unplug);
                report("nova-docker sequence (8 processes)", nova);
            } finally {
                env.close();
                for (String h : hostEnds) {
                    env.deleteLink(h);
                }
                net.close();
                env.deleteLink(bridge);
                try (var files = Files.walk(state)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
        }
    }

    private static void ip(NetTestSupport env, String... args) {
        List<String> argv = new ArrayList<>(List.of(env.commands.ip()));
        argv.addAll(List.of(args));
        check(env.commands.run(argv, null), argv);
    }

    private static void ipIn(NetTestSupport env, long pid, String... args) {
        List<String> argv = new ArrayList<>(List.of(env.commands.nsenter(), "--net=/proc/" + pid + "/ns/net", "--",
                env.commands.ip()));
        argv.addAll(List.of(args));
        check(env.commands.run(argv, null), argv);
    }

    private static void check(Commands.Result r, List<String> argv) {
        if (!r.ok()) {
            throw new IllegalStateException(String.join(" ", argv) + ": " + r.output());
        }
    }

    private static void report(String what, double[] ms) {
        double[] s = ms.clone();
        Arrays.sort(s);
        double median = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        System.out.printf("%-36s median %6.2f ms  min %6.2f  p90 %6.2f  max %6.2f  (n=%d)%n", what, median, s[0],
                s[(int) Math.ceil(s.length * 0.9) - 1], s[s.length - 1], s.length);
    }
}
