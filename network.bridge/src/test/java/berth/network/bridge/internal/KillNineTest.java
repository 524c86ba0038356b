package berth.network.bridge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.Vif;
import berth.driver.api.io.DurableFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A real child JVM allocating addresses is killed with SIGKILL; nothing it was given may be handed out again. */
class KillNineTest {

    @TempDir
    Path state;

    @Test
    @Timeout(120)
    void allocationsSurviveKill9OfTheAllocatingJvm() throws Exception {
        String cidr = "10.250.0.0/16";
        String cp = Path.of(AllocatorChild.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                + java.io.File.pathSeparator
                + Path.of(VifStore.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                + java.io.File.pathSeparator
                + Path.of(DurableFiles.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Map<String, String> seen = new HashMap<>();
        for (int round = 0; round < 2; round++) {
            Process p = new ProcessBuilder(java, "-cp", cp, AllocatorChild.class.getName(), state.toString(), cidr,
                    "round" + round)
                    .redirectErrorStream(true).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String first = r.readLine();
                assertEquals("ready", first);
                int n = 0;
                String line;
                // Kill mid-stream, at an arbitrary point of some allocation.
                while (n < 150 + round * 37 && (line = r.readLine()) != null) {
                    String[] f = line.split(" ");
                    assertFalse(seen.containsKey(f[1]), "address handed out twice: " + f[1]);
                    seen.put(f[1], f[0] + " " + f[2]);
                    n++;
                }
                p.toHandle().destroyForcibly(); // SIGKILL, keeping our end of the pipe open
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
                assertEquals(137, p.exitValue());
                while ((line = r.readLine()) != null) {
                    String[] f = line.split(" ");
                    if (f.length == 3) {
                        assertFalse(seen.containsKey(f[1]), "address handed out twice: " + f[1]);
                        seen.put(f[1], f[0] + " " + f[2]);
                    }
                }
            } finally {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
        NetworkSpec net = NetworkSpec.of("k", "btest0", cidr, "", List.of(), 0);
        try (VifStore s = new VifStore(state)) {
            Map<String, String> recorded = new HashMap<>();
            for (VifStore.Entry e : s.entries()) {
                recorded.put(e.vif().address(), e.vif().id() + " " + e.vif().mac());
            }
            for (var e : seen.entrySet()) {
                assertEquals(e.getValue(), recorded.get(e.getKey()), "lost allocation of " + e.getKey());
            }
            Set<String> macs = new HashSet<>();
            recorded.values().forEach(v -> macs.add(v.split(" ")[1]));
            assertEquals(recorded.size(), macs.size(), "MACs unique");
            List<Vif> fresh = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                fresh.add(s.allocate(net, "after-" + i, "eth0"));
            }
            for (Vif v : fresh) {
                assertFalse(recorded.containsKey(v.address()), "reallocated " + v.address());
                assertFalse(macs.contains(v.mac()));
            }
        }
    }
}
