package berth.runtime.internal.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/**
 * Runs a real, small benchmark ({@code --count 3}) of both real backends through the launcher,
 * {@code ./berth -c 'nova:bench …'}, in a headless runtime of its own (own state directory, control socket, scope
 * and log folder), then checks the report files hold figures for both backends and both paths, and that nothing
 * named bench-* is left in the registry, in dockerd or under the LXC paths.
 *
 * <p>Runs in the runtime module's {@code integration-test} phase, after the run descriptor has been exported to
 * {@code target/berth.jar}. Needs root, dockerd on {@code /var/run/docker.sock} (the launcher starts it when it is
 * not running), liblxc's tools and the built backend bundles; with {@code CI=true} a missing one fails the test.
 */
class BenchLauncherIT {

    private static final Path DOCKER_SOCKET = Path.of("/var/run/docker.sock");
    private static final String[] OPERATIONS = {"boot", "to_running", "exec", "pause", "unpause", "stop", "start",
        "reboot", "delete"};
    private static final String[] MODULES = {"driver.docker", "driver.lxc", "image.glance", "network.bridge"};
    private static final long TIMEOUT_SECONDS = 900;

    @TempDir
    Path tmp;

    @Test
    void benchOfBothBackendsThroughTheLauncher() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("berth.launcher.it"),
                "runs in the integration-test phase, against the exported target/berth.jar");
        Path root = Path.of("").toAbsolutePath().getParent();
        require(Files.isExecutable(root.resolve("berth")), "the launcher " + root.resolve("berth"));
        require(Files.isRegularFile(root.resolve("runtime/target/berth.jar")), "runtime/target/berth.jar (mvn package)");
        for (String m : MODULES) {
            require(built(root.resolve(m).resolve("target"), "berth." + m), "a built " + m + " bundle");
        }
        require("0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).trim()),
                "root (engines, cgroups)");
        require(Files.isExecutable(Path.of("/usr/bin/lxc-start")) && Files.isExecutable(Path.of("/usr/bin/lxc-create")),
                "liblxc's tools (apt-get install lxc)");
        require(Files.isRegularFile(Path.of("/bin/busybox")), "/bin/busybox (apt-get install busybox-static)");
        require(dockerAnswers(), "dockerd answering on " + DOCKER_SOCKET);

        String scope = "benchit" + Integer.toString(new Random().nextInt(1 << 20), 36);
        Path out = tmp.resolve("report");
        long started = System.currentTimeMillis();
        Run run = launcher(root, scope, "nova:bench --backend docker,lxc --count 3 --out " + out);
        assertEquals(0, run.exit, () -> "./berth -c nova:bench failed\n" + run.describe());

        assertTrue(run.stdout.contains("| docker") && run.stdout.contains("| lxc"), run.stdout);
        assertTrue(run.stderr.contains("docker berth boot 1/3") && run.stderr.contains("lxc berth boot 3/3"),
                "progress while it runs\n" + run.stderr);
        for (String f : new String[] {ReportWriter.SAMPLES, ReportWriter.SUMMARY, ReportWriter.MEMORY,
            ReportWriter.HTML}) {
            Path p = out.resolve(f);
            assertTrue(Files.isRegularFile(p), "missing " + p);
            assertTrue(Files.getLastModifiedTime(p).toMillis() >= started - 2000, "written by this run: " + p);
        }

        List<List<String>> summary = ReportWriterTest.csv(out.resolve(ReportWriter.SUMMARY));
        for (String backend : new String[] {"docker", "lxc"}) {
            for (String op : OPERATIONS) {
                List<String> row = find(summary, backend, "berth", op);
                assertEquals("3", row.get(3), backend + " " + op + " samples: " + row);
                assertEquals("0", row.get(4), backend + " " + op + " failures: " + row);
                assertTrue(Double.parseDouble(row.get(5)) > 0, backend + " " + op + " p50: " + row);
                assertTrue(Double.parseDouble(row.get(7)) >= Double.parseDouble(row.get(6)), "max >= p90: " + row);
            }
            for (String op : new String[] {"create", "start", "boot", "stop", "delete"}) {
                List<String> row = find(summary, backend, "raw", op);
                assertEquals("3", row.get(3), backend + " raw " + op + ": " + row);
                assertTrue(Double.parseDouble(row.get(5)) > 0, backend + " raw " + op + ": " + row);
            }
        }
        List<List<String>> samples = ReportWriterTest.csv(out.resolve(ReportWriter.SAMPLES));
        long dockerBoots = samples.stream().filter(r -> r.get(0).equals("docker") && r.get(1).equals("berth")
                && r.get(2).equals("boot") && r.get(5).isEmpty()).count();
        assertEquals(3, dockerBoots);
        List<List<String>> memory = ReportWriterTest.csv(out.resolve(ReportWriter.MEMORY));
        for (String backend : new String[] {"docker", "lxc"}) {
            List<String> row = memory.stream().filter(r -> r.get(0).equals(backend)).findFirst()
                    .orElseThrow(() -> new AssertionError("no memory row for " + backend + ": " + memory));
            assertEquals("3", row.get(1), "instances measured: " + row);
            assertTrue(Long.parseLong(row.get(2)) > 0, "cgroup memory of " + backend + ": " + row);
            assertTrue(Long.parseLong(row.get(4)) > 0, "supervisor memory of " + backend + ": " + row);
        }
        Document html = ReportWriterTest.parse(Files.readString(out.resolve(ReportWriter.HTML)));
        assertTrue(html.getElementsByTagNameNS("http://www.w3.org/2000/svg", "svg").getLength()
                >= OPERATIONS.length + 1, "an SVG chart per operation");

        assertNothingLeft(root, scope);
    }

    private void assertNothingLeft(Path root, String scope) throws Exception {
        DockerSocketClient docker = new DockerSocketClient(DOCKER_SOCKET, Duration.ofSeconds(30));
        for (String label : new String[] {"berth.scope=" + scope, RawDockerPath.LABEL + "=" + scope}) {
            DockerSocketClient.Response r = docker.call("GET", "/v1.41/containers/json?all=1&filters="
                    + URLEncoder.encode("{\"label\":[\"" + label + "\"]}", StandardCharsets.UTF_8), null);
            assertEquals(200, r.status());
            assertEquals("[]", r.body().strip(), "docker containers left with label " + label);
        }
        Path state = tmp.resolve("state");
        for (Path lxcpath : new Path[] {state.resolve("lxc"), state.resolve("bench").resolve("lxc")}) {
            if (Files.isDirectory(lxcpath)) {
                try (Stream<Path> s = Files.list(lxcpath)) {
                    List<String> left = s.map(p -> p.getFileName().toString())
                            .filter(n -> !n.startsWith(".") && Files.isDirectory(lxcpath.resolve(n))).toList();
                    assertEquals(List.of(), left, "LXC containers left under " + lxcpath);
                }
            }
        }
        Run list = launcher(root, scope, "nova:list");
        assertEquals(0, list.exit, list::describe);
        assertFalse(list.stdout.contains("bench-"), "bench instances left in the registry:\n" + list.stdout);
    }

    private static List<String> find(List<List<String>> rows, String backend, String path, String op) {
        return rows.stream().filter(r -> r.get(0).equals(backend) && r.get(1).equals(path) && r.get(2).equals(op))
                .findFirst().orElseThrow(() -> new AssertionError("no " + backend + " " + path + " " + op + " row"));
    }

    private record Run(int exit, String stdout, String stderr, String log) {
        String describe() {
            return "exit " + exit + "\n--- stdout\n" + tail(stdout) + "\n--- stderr\n" + tail(stderr)
                    + "\n--- runtime log\n" + tail(log);
        }

        private static String tail(String s) {
            return s.length() > 6000 ? "..." + s.substring(s.length() - 6000) : s;
        }
    }

    private Run launcher(Path root, String scope, String line) throws IOException, InterruptedException {
        Path stdout = Files.createTempFile(tmp, "out", ".txt");
        Path stderr = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("berth").toString(), "-c", line).directory(root.toFile())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Map<String, String> env = pb.environment();
        env.put("BERTH_STATE_DIR", tmp.resolve("state").toString());
        env.put("BERTH_CONTROL_DIR", tmp.resolve("run").toString());
        env.put("BERTH_LOG_DIR", tmp.resolve("log").toString());
        env.put("BERTH_SCOPE", scope);
        env.put("BERTH_SKIP_BUILD", "1");
        Process p = pb.start();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            fail("./berth -c '" + line + "' did not finish within " + TIMEOUT_SECONDS + " s\n"
                    + Files.readString(stderr));
        }
        StringBuilder log = new StringBuilder();
        // where the launcher puts the runtime's output and log, in this and earlier layouts
        for (Path l : new Path[] {tmp.resolve("state/runtime.out"), tmp.resolve("state/runtime.log"),
            tmp.resolve("log/runtime-headless.log")}) {
            if (Files.isRegularFile(l)) {
                log.append("== ").append(l.getFileName()).append('\n').append(Files.readString(l));
            }
        }
        return new Run(p.exitValue(), Files.readString(stdout), Files.readString(stderr), log.toString());
    }

    private static boolean built(Path target, String prefix) throws IOException {
        if (!Files.isDirectory(target)) {
            return false;
        }
        try (Stream<Path> s = Files.list(target)) {
            return s.map(p -> p.getFileName().toString()).anyMatch(n -> n.startsWith(prefix + "-")
                    && n.endsWith(".jar") && !n.endsWith("-sources.jar") && !n.endsWith("-tests.jar"));
        }
    }

    private static boolean dockerAnswers() {
        if (!Files.exists(DOCKER_SOCKET)) {
            return false;
        }
        try {
            return new DockerSocketClient(DOCKER_SOCKET, Duration.ofSeconds(5)).call("GET", "/_ping", null).ok();
        } catch (IOException e) {
            return false;
        }
    }

    /** A missing engine skips the test on a developer's machine and fails it in CI. */
    private static void require(boolean present, String what) {
        if (present) {
            return;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail("CI=true and the benchmark test needs " + what);
        }
        Assumptions.abort("needs " + what);
    }
}
