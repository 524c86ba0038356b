package berth.network.bridge.internal;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Real network namespaces for the integration tests: long-running {@code unshare --net} processes stand in for
 * containers' init processes. Tools are found through the system properties {@code berth.network.ip},
 * {@code berth.network.nsenter}, {@code berth.network.iptables}, {@code berth.test.unshare},
 * {@code berth.test.busybox}, else on the usual paths.
 */
final class NetTestSupport implements AutoCloseable {

    final Commands commands = Commands.locate(System.getProperty("berth.network.ip"),
            System.getProperty("berth.network.nsenter"), System.getProperty("berth.network.iptables"));
    final String unshare = System.getProperty("berth.test.unshare", "/usr/bin/unshare");
    final String busybox = System.getProperty("berth.test.busybox", "/bin/busybox");
    private final List<Process> processes = new ArrayList<>();

    /** Fails (CI=true) or skips when this is not root on a machine with the tools. */
    void requireEngine() {
        String why = null;
        if (!isRoot()) {
            why = "integration tests need root (real bridges and namespaces)";
        } else {
            for (String t : List.of(commands.ip(), commands.nsenter(), unshare, busybox)) {
                if (!Files.isExecutable(Path.of(t))) {
                    why = t + " is missing (apt-get install iproute2 util-linux busybox-static)";
                }
            }
        }
        if (why != null) {
            if ("true".equals(System.getenv("CI"))) {
                fail(why);
            }
            Assumptions.abort(why);
        }
    }

    static boolean isRoot() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("Uid:")) {
                    return l.split("\\s+")[1].equals("0");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** Starts a process in a new network namespace and returns it once it is there. */
    Process namespace() throws Exception {
        return namespace(null);
    }

    /** Same, with {@code root} as the process's root directory (it needs bin/busybox). */
    Process namespace(Path root) throws Exception {
        List<String> argv = new ArrayList<>(List.of(unshare, "--net"));
        if (root != null) {
            argv.add("--root=" + root);
            argv.addAll(List.of("/bin/busybox", "sleep", "600"));
        } else {
            argv.addAll(List.of(busybox, "sleep", "600"));
        }
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        processes.add(p);
        String own = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        for (int i = 0; i < 200; i++) {
            try {
                if (!Files.readSymbolicLink(Path.of("/proc", "" + p.pid(), "ns", "net")).toString().equals(own)) {
                    return p;
                }
            } catch (IOException e) {
                // not started yet
            }
            Thread.sleep(10);
        }
        fail("process " + p.pid() + " did not enter a new network namespace");
        return p;
    }

    void kill(Process p) throws InterruptedException {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** Runs a command inside the namespace of pid; returns exit code and output. */
    Commands.Result in(long pid, String... argv) {
        List<String> a = new ArrayList<>(List.of(commands.nsenter(), "--net=/proc/" + pid + "/ns/net", "--"));
        a.addAll(List.of(argv));
        return commands.run(a, null);
    }

    /** A bounded ping (three single-packet tries, 1 s each) from the namespace of pid. */
    boolean ping(long pid, String address) {
        for (int i = 0; i < 3; i++) {
            if (in(pid, busybox, "ping", "-c", "1", "-W", "1", address).ok()) {
                return true;
            }
        }
        return false;
    }

    /** A single bounded ping, for asserting that traffic does NOT pass. */
    boolean pingOnce(long pid, String address) {
        return in(pid, busybox, "ping", "-c", "1", "-W", "1", address).ok();
    }

    static Set<String> links() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/sys/class/net"))) {
            return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }

    static String randomHex(int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(Character.forDigit(ThreadLocalRandom.current().nextInt(16), 16));
        }
        return b.toString();
    }

    /** A 10.x /24 that overlaps no host address now. */
    static String freeCidr() {
        for (int i = 0; i < 100; i++) {
            String cidr = "10.249." + ThreadLocalRandom.current().nextInt(256) + ".0/24";
            Subnet s = Subnet.parseNetwork(cidr);
            boolean clash = false;
            for (String[] hs : Links.hostSubnets("")) {
                String[] p = hs[1].split("/");
                clash |= new Subnet(Subnet.parseAddress(p[0]), Integer.parseInt(p[1])).overlaps(s);
            }
            if (!clash) {
                return cidr;
            }
        }
        throw new IllegalStateException("no free 10.249.x.0/24");
    }

    void deleteLink(String name) {
        if (Links.exists(name)) {
            commands.ipBatch("link del " + name + "\n");
        }
    }

    static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            kill(p);
        }
        processes.clear();
    }
}
