package berth.runtime.internal.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real JVM writes records to a real directory and is killed with SIGKILL ({@code destroyForcibly}) while it
 * writes; every record it reported as written must load intact, and nothing it left behind may break loading.
 * The records live in a real directory under {@code java.io.tmpdir}, not in an in-memory filesystem.
 */
class RegistryKillTest {

    @TempDir
    Path tmp;

    @Test
    void killNineLosesNoReportedRecord() throws Exception {
        Path dir = tmp.resolve("registry");
        Map<String, Integer> reported = new HashMap<>();
        int[] killAfter = {150, 37, 311};
        for (int round = 0; round < killAfter.length; round++) {
            Process p = new ProcessBuilder(javaBinary(), "-cp", System.getProperty("java.class.path"),
                    RegistryCrashWriter.class.getName(), dir.toString(), "100000")
                    .redirectError(tmp.resolve("child-" + round + ".err").toFile()).start();
            int lines = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("READY ")) {
                        assertEquals(uniqueCount(reported), Integer.parseInt(line.substring(6)),
                                "round " + round + ": the child loaded a different number of records");
                        continue;
                    }
                    if (line.startsWith("W ")) {
                        String[] f = line.split(" ");
                        reported.merge(f[1], Integer.parseInt(f[2]), Math::max);
                        lines++;
                    }
                    if (lines >= killAfter[round] || System.nanoTime() > deadline) {
                        break;
                    }
                }
                // SIGKILL while the child keeps writing: it is somewhere inside or between writes. Through the
                // handle, because Process.destroyForcibly also closes our end of its stdout.
                assertTrue(p.toHandle().destroyForcibly(), "could not signal the child");
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "child did not die");
                assertEquals(128 + 9, p.exitValue(), "the child must die of SIGKILL while still writing; its stderr: "
                        + Files.readString(tmp.resolve("child-" + round + ".err")));
                // lines already in the pipe were written before the kill too
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("W ")) {
                        String[] f = line.split(" ");
                        reported.merge(f[1], Integer.parseInt(f[2]), Math::max);
                    }
                }
            }
            assertTrue(lines >= killAfter[round], "round " + round + ": child wrote only " + lines + " records");

            InstanceRegistry loaded = new InstanceRegistry(dir);
            assertEquals(List.of(), loaded.problems(), "round " + round);
            for (Map.Entry<String, Integer> e : reported.entrySet()) {
                InstanceRecord r = loaded.get(e.getKey()).orElse(null);
                assertNotNull(r, "round " + round + ": record " + e.getKey() + " was reported written but is lost");
                int seq = Integer.parseInt(r.metadata().get("seq"));
                if (seq < e.getValue()) {
                    fail("round " + round + ": record " + e.getKey() + " is at seq " + seq + ", reported "
                            + e.getValue());
                }
                assertEquals(1, r.vifs().size());
                assertEquals("c1.nano", r.flavor());
            }
            try (Stream<Path> files = Files.list(dir)) {
                assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")),
                        "loading removes leftover temporary files");
            }
        }
    }

    private static int uniqueCount(Map<String, Integer> reported) {
        return reported.size();
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
