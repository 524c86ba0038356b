package berth.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Networking with real containers of both backends, through {@code ./berth -c}: three instances (two Docker, one
 * LXC) on the test's own default network reach each other and the gateway; address and MAC survive soft and hard
 * reboot, stop/start and runtime restarts; a VIF attached and detached live; nothing of the test's bridge is left.
 */
class NetworkE2EIT {
    private static final Pattern VIF = Pattern.compile(
            "^(eth\\d+) (\\S+) ([0-9.]+)/\\d+ mac ([0-9a-f:]{17}) id (\\S+)$");

    @TempDir
    Path tmp;

    private Launcher berth;
    private final List<String> instances = new ArrayList<>();
    private final List<String> images = new ArrayList<>();

    record Vif(String dev, String network, String ip, String mac, String id) {
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (berth == null) {
            return;
        }
        for (String name : instances) {
            berth.retry("nova:delete " + name);
        }
        List<String> left = berth.removeLeftovers();
        Launcher.removeDockerImages(images);
        if (!left.isEmpty()) {
            System.out.println("e2e cleanup had to remove what Berth left: " + left);
        }
        try {
            berth.stopRuntime();
        } finally {
            berth.removeBridge();
        }
    }

    @Test
    @Timeout(1500)
    void instancesOfBothBackendsTalkAndKeepTheirAddresses() throws Exception {
        berth = new Launcher(tmp, "net");
        berth.requireBasics();
        berth.startRuntime();
        String dockerImage = berth.localImage("docker");
        String rootfsImage = berth.localImage("bare");
        images.add(dockerImage);

        String d1 = "d1", d2 = "d2", l1 = "l1";
        boot(d1, "docker", dockerImage);
        boot(d2, "docker", dockerImage);
        boot(l1, "lxc", rootfsImage);
        Map<String, Vif> first = new LinkedHashMap<>();
        for (String n : instances) {
            Vif v = vifs(berth.show(n)).get(0);
            assertEquals("eth0", v.dev());
            assertTrue(v.ip().startsWith(berth.subnet + "."), v + " in " + berth.subnet + ".0/24");
            first.put(n, v);
            // each serves its own name, so a fetch proves which instance answered
            Launcher.assertOk(berth.run("nova:exec " + n + " -- sh -c \"echo served-by-" + n + " > /index.html\""));
        }
        assertEquals(3, first.values().stream().map(Vif::ip).distinct().count(), "distinct addresses " + first);
        assertEquals(3, first.values().stream().map(Vif::mac).distinct().count(), "distinct MACs " + first);
        assertEquals(3, hostEnds().size(), "one host veth per VIF on " + berth.bridge + ": " + hostEnds());

        reachEachOther(first, "after boot");

        String[][] steps = {
            {"soft reboot", "nova:reboot %s"},
            {"hard reboot", "nova:reboot --hard %s"},
            {"stop", "nova:stop %s"},
        };
        for (String[] step : steps) {
            for (String n : List.of(d1, l1)) {
                berth.ok(String.format(step[1], n));
            }
            if (step[0].equals("stop")) {
                for (String n : List.of(d1, l1)) {
                    Map<String, String> s = berth.show(n);
                    assertEquals("STOPPED", s.get("status"), n + " after nova:stop: " + s);
                    assertEquals(List.of(first.get(n)), vifs(s), n + " keeps its VIF while stopped");
                    berth.ok("nova:start " + n);
                }
                step[0] = "stop + start";
            }
            assertSameAddresses(first, step[0]);
            reachEachOther(first, "after " + step[0]);
        }
        // A runtime restart with nothing done to the instances meanwhile. While no runtime runs, the instances
        // still reach each other (asked of the engine directly): a compute service restart must not cut traffic.
        berth.stopRuntime();
        String d1Container = "berth-" + berth.scope + "-" + berth.uuidOf(d1);
        Sh.Out down = Sh.run(60, "docker", "exec", d1Container, "ping", "-c", "2", "-W", "2", first.get(l1).ip());
        String rulesWhileDown = Sh.run(30, "iptables", "-w", "-S", "DOCKER-USER").out();
        // checked at the end, so that the rest still runs when this fails
        List<String> problems = new ArrayList<>();
        if (down.exit() != 0) {
            problems.add("d1 -> l1 while the runtime was stopped (docker exec ping) failed:\n" + down.out()
                    + down.err() + "\nDOCKER-USER while the runtime was stopped:\n" + rulesWhileDown);
        }
        // One command each in a headless runtime of its own (./berth -c with no runtime running)
        for (String n : List.of(d1, l1)) {
            Launcher.Result h = berth.run("nova:exec " + n + " -- ip addr show eth0");
            if (h.exit() != 0 || !h.out().contains(first.get(n).ip() + "/") || !h.out().contains(first.get(n).mac())) {
                problems.add("headless ./berth -c nova:exec " + n + " should show " + first.get(n) + ":\n"
                        + h.describe());
            }
        }
        berth.startRuntime();
        assertSameAddresses(first, "runtime restart");
        reachEachOther(first, "after a runtime restart");

        // Live attach and detach, on a Docker and an LXC instance.
        for (String n : List.of(d1, l1)) {
            berth.ok("net:attach " + n + " default");
            List<Vif> vifs = vifs(berth.show(n));
            assertEquals(2, vifs.size(), n + " VIFs after net:attach: " + vifs);
            Vif extra = vifs.get(1);
            assertEquals("eth1", extra.dev());
            String inside = berth.ok("nova:exec " + n + " -- ip addr show eth1").out();
            assertTrue(inside.contains(extra.ip() + "/") && inside.contains(extra.mac()),
                    "eth1 inside " + n + " carries " + extra + ":\n" + inside);
            String peer = n.equals(d1) ? l1 : d1;
            ping(peer, extra.ip(), "to " + n + "'s attached " + extra.ip());
            assertEquals(4, hostEnds().size(), "host ends after attach: " + hostEnds());

            berth.ok("net:detach " + n + " " + extra.id());
            List<Vif> after = vifs(berth.show(n));
            assertEquals(List.of(first.get(n)), after, n + " after net:detach");
            Launcher.Result gone = berth.run("nova:exec " + n + " -- ip link show eth1");
            assertTrue(gone.exit() != 0, "eth1 still inside " + n + " after net:detach:\n" + gone.describe());
            assertEquals(3, hostEnds().size(), "host ends after detach: " + hostEnds());
            assertFalse(berth.ok("net:show default").out().contains(extra.ip() + " "),
                    "detached address " + extra.ip() + " still allocated");
        }
        reachEachOther(first, "after attach/detach");

        List<String> ends = hostEnds();
        for (String n : List.copyOf(instances)) {
            berth.ok("nova:delete " + n);
            instances.remove(n);
        }
        assertEquals(List.of(), hostEnds(), "veths left on " + berth.bridge);
        String links = Sh.run(30, "ip", "-o", "link").out();
        for (String e : ends) {
            assertFalse(links.contains(" " + e + "@") || links.contains(" " + e + ":"),
                    "host end " + e + " left in ip link:\n" + links);
        }
        assertFalse(berth.ok("nova:list").out().contains(" d1 "), "registry still lists d1");
        assertEquals(List.of(), problems);
    }

    private void boot(String name, String backend, String image) throws Exception {
        Launcher.Result r = berth.ok("nova:boot --image " + image + " --flavor c1.nano --backend " + backend
                + " --nic default --command \"httpd -f -p 8080\" " + name);
        instances.add(name);
        Map<String, String> s = Launcher.properties(r.out());
        assertEquals("ACTIVE", s.get("status"), r::describe);
        assertEquals(backend, s.get("backend"));
        long idle = berth.ok("nova:list").millis();
        System.out.printf("e2e boot %s on %s: ./berth -c nova:boot %d ms (through the control socket; a bare"
                + " ./berth -c nova:list took %d ms)%n", name, backend, r.millis(), idle);
    }

    private void assertSameAddresses(Map<String, Vif> first, String when) throws Exception {
        for (Map.Entry<String, Vif> e : first.entrySet()) {
            Map<String, String> s = berth.show(e.getKey());
            assertEquals("ACTIVE", s.get("status"), e.getKey() + " after " + when + ": " + s);
            assertEquals(List.of(e.getValue()), vifs(s), e.getKey() + " VIF after " + when);
            String inside = berth.ok("nova:exec " + e.getKey() + " -- ip addr show eth0").out();
            assertTrue(inside.contains(e.getValue().ip() + "/") && inside.contains(e.getValue().mac()),
                    e.getKey() + " eth0 inside after " + when + " should carry " + e.getValue() + ":\n" + inside);
        }
        assertEquals(first.size(), hostEnds().size(), "host veths after " + when + ": " + hostEnds());
    }

    private void reachEachOther(Map<String, Vif> vifs, String when) throws Exception {
        // busybox-static wget segfaults with -T here, so nova:exec --timeout bounds it instead.
        // docker <-> lxc both ways, docker <-> docker, each to the gateway
        fetch("d1", vifs.get("l1").ip(), "l1", when);
        fetch("l1", vifs.get("d1").ip(), "d1", when);
        fetch("d2", vifs.get("d1").ip(), "d1", when);
        ping("d1", vifs.get("d2").ip(), when);
        for (String n : vifs.keySet()) {
            ping(n, berth.gateway(), n + " to the gateway " + when);
        }
    }

    private void fetch(String from, String ip, String expect, String when) throws Exception {
        Launcher.Result r = berth.run("nova:exec --timeout 20 " + from + " -- wget -q -O - http://" + ip
                + ":8080/index.html");
        assertEquals(0, r.exit(), () -> from + " fetching from " + expect + " (" + ip + ") " + when + "\n"
                + r.describe());
        assertTrue(r.out().contains("served-by-" + expect), from + " -> " + ip + " " + when + ": " + r.out());
    }

    private void ping(String from, String ip, String what) throws Exception {
        Launcher.Result r = berth.run("nova:exec --timeout 20 " + from + " -- ping -c 2 -W 2 " + ip);
        assertEquals(0, r.exit(), () -> "ping from " + from + " to " + ip + " (" + what + ")\n" + r.describe());
    }

    private static List<Vif> vifs(Map<String, String> show) {
        List<Vif> out = new ArrayList<>();
        for (int i = 0; show.containsKey("vif" + i); i++) {
            Matcher m = VIF.matcher(show.get("vif" + i));
            assertTrue(m.matches(), "vif" + i + " row: " + show.get("vif" + i));
            out.add(new Vif(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)));
        }
        assertNotNull(show.get("id"), "nova:show output: " + show);
        return out;
    }

    /** Names of the interfaces enslaved to the test's bridge. */
    private List<String> hostEnds() throws Exception {
        Sh.Out r = Sh.run(30, "ip", "-o", "link", "show", "master", berth.bridge);
        List<String> names = new ArrayList<>();
        for (String l : r.out().split("\n")) {
            String[] f = l.split(":", 3);
            if (f.length >= 2) {
                String n = f[1].strip();
                int at = n.indexOf('@');
                names.add(at >= 0 ? n.substring(0, at) : n);
            }
        }
        return names;
    }
}
