package berth.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs {@code ./berth -c LINE} with a state directory, scope, control directory and default network of its own,
 * from a private copy of the launcher and the built jars. With {@link #startRuntime()} the commands go to one
 * long-running runtime through its control socket; without, each starts a headless runtime of its own.
 */
final class Launcher {
    static final long CALL_TIMEOUT_SECONDS = 300;

    /** The workspace whose build is tested. */
    final Path source;
    /** A private copy of the launcher and the built jars: a rebuild in the workspace cannot change them mid-test. */
    final Path root;
    final Path work;
    final Path state;
    final String scope;
    final String bridge;
    final String subnet; // "10.2xx.y"
    private final Map<String, String> extraEnv = new LinkedHashMap<>();

    Launcher(Path work, String prefix) throws IOException, InterruptedException {
        this.source = Path.of("").toAbsolutePath().getParent();
        this.root = work.resolve("berth-root");
        this.work = work;
        this.state = work.resolve("state");
        Random r = new Random();
        String tag = Integer.toString(r.nextInt(1 << 20), 36);
        this.scope = prefix + tag;
        this.bridge = ("be2" + prefix.charAt(0) + tag);
        this.subnet = freeSubnet(r);
        Files.createDirectories(state.resolve("deploy"));
    }

    private static final String[] MODULES = {"driver.docker", "driver.lxc", "image.glance", "network.bridge"};

    /** Copies the launcher, its scripts and the built jars the launcher uses into {@link #root}. */
    private void snapshotBuild() throws IOException, InterruptedException {
        Files.createDirectories(root.resolve("runtime/target"));
        copy(source.resolve("berth"), root.resolve("berth"));
        Sh.Out cp = Sh.run(60, "cp", "-a", source.resolve("bin").toString(), source.resolve("runtime/etc").toString(),
                root.toString());
        assertEquals(0, cp.exit(), cp.err());
        Sh.run(10, "mv", root.resolve("etc").toString(), root.resolve("runtime/etc").toString());
        copy(source.resolve("runtime/target/berth.jar"), root.resolve("runtime/target/berth.jar"));
        copy(jar(source.resolve("runtime/target"), "berth.runtime"), root.resolve("runtime/target/berth.runtime-0.jar"));
        for (String m : MODULES) {
            Path target = root.resolve(m).resolve("target");
            Files.createDirectories(target);
            copy(jar(source.resolve(m).resolve("target"), "berth." + m), target.resolve("berth." + m + "-0.jar"));
        }
    }

    /** Copies a jar, again while it is being rewritten by a build elsewhere (it does not open as a zip). */
    private static void copy(Path from, Path to) throws IOException, InterruptedException {
        for (int i = 0; ; i++) {
            Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            if (!to.toString().endsWith(".jar")) {
                return;
            }
            try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(to.toFile())) {
                z.stream().forEach(e -> { });
                return;
            } catch (IOException e) {
                if (i >= 30) {
                    throw new IOException(from + " does not open as a jar: " + e.getMessage(), e);
                }
                Thread.sleep(2000);
            }
        }
    }

    private static Path jar(Path target, String prefix) throws IOException {
        try (Stream<Path> s = Files.list(target)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(prefix + "-") && n.endsWith(".jar") && !n.endsWith("-sources.jar")
                        && !n.endsWith("-tests.jar") && !n.endsWith("-javadoc.jar");
            }).findFirst().orElseThrow(() -> new IOException("no " + prefix + " jar in " + target));
        }
    }

    /** A 10.2xx.y.0/24 that no route on this machine uses yet. */
    private static String freeSubnet(Random r) throws IOException, InterruptedException {
        String routes = Sh.run(30, "ip", "-4", "route", "show", "table", "all").out();
        for (int i = 0; i < 50; i++) {
            String s = "10." + (230 + r.nextInt(20)) + "." + r.nextInt(256);
            if (!routes.contains(s + ".")) {
                return s;
            }
        }
        throw new IllegalStateException("no free 10.2xx.y.0/24 found");
    }

    String gateway() {
        return subnet + ".1";
    }

    void env(String k, String v) {
        extraEnv.put(k, v);
    }

    record Result(String line, int exit, String out, String err, long millis, String log) {
        String describe() {
            return "./berth -c '" + line + "' exit " + exit + " in " + millis + " ms\n--- stdout\n" + tail(out)
                    + "\n--- stderr\n" + tail(err) + "\n--- runtime output/log\n" + tail(log);
        }

        private static String tail(String s) {
            return s.length() > 5000 ? "..." + s.substring(s.length() - 5000) : s;
        }
    }

    private void environment(ProcessBuilder pb) {
        Map<String, String> env = pb.environment();
        env.put("BERTH_STATE_DIR", state.toString());
        env.put("BERTH_CONTROL_DIR", work.resolve("run").toString());
        env.put("BERTH_LOG_DIR", work.resolve("log").toString());
        env.put("BERTH_SCOPE", scope);
        env.put("BERTH_SKIP_BUILD", "1");
        env.put("BERTH_JAVA_OPTS", "-Dberth.network.default.bridge=" + bridge
                + " -Dberth.network.default.cidr=" + subnet + ".0/24");
        env.putAll(extraEnv);
    }

    private Process runtime;

    /**
     * Starts a long-running runtime: {@code ./berth} (the shell) with a pipe as its input, so every later
     * {@code ./berth -c} goes through its control socket; closing the pipe stops it (end of input). Returns once
     * both backends are present.
     */
    void startRuntime() throws IOException, InterruptedException {
        Path out = work.resolve("runtime-shell.out");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("berth").toString()).directory(root.toFile())
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(out.toFile()));
        environment(pb);
        runtime = pb.start();
        Path socket = work.resolve("run").resolve(scope + ".sock");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        String last = "";
        while (System.nanoTime() < deadline) {
            if (!runtime.isAlive()) {
                fail("the runtime (./berth) exited with " + runtime.exitValue() + "\n" + Files.readString(out)
                        + runtimeLog());
            }
            if (Files.exists(socket) && Sh.run(30, "java", "-cp", root.resolve("runtime/target/berth.runtime-0.jar")
                    .toString(), "-Dberth.control.socket=" + socket, "berth.runtime.internal.control.ControlClient",
                    "--ping").exit() == 0) {
                Result r = run("nova:backends");
                last = r.out() + r.err();
                List<List<String>> rows = rows(r.out());
                boolean docker = rows.stream().anyMatch(x -> x.size() > 1 && x.get(0).equals("docker")
                        && x.get(1).equals("yes"));
                boolean lxc = rows.stream().anyMatch(x -> x.size() > 1 && x.get(0).equals("lxc")
                        && x.get(1).equals("yes"));
                if (docker && lxc) {
                    return;
                }
            }
            Thread.sleep(300);
        }
        fail("the runtime did not answer with both backends present within 120 s\n" + last + "\n"
                + Files.readString(out) + runtimeLog());
    }

    /** Stops the runtime started by {@link #startRuntime()} (end of its input, as Ctrl-D); bounded. */
    void stopRuntime() throws IOException, InterruptedException {
        if (runtime == null) {
            return;
        }
        Process p = runtime;
        runtime = null;
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            fail("the runtime did not stop within 60 s of the end of its input");
        }
        assertEquals(0, p.exitValue(), "./berth (shell) exit code after the end of its input");
    }

    Result run(String line) throws IOException, InterruptedException {
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("berth").toString(), "-c", line).directory(root.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        environment(pb);
        long t0 = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            fail("./berth -c '" + line + "' did not finish within " + CALL_TIMEOUT_SECONDS + " s\n"
                    + Files.readString(err));
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Result res = new Result(line, p.exitValue(), Files.readString(out), Files.readString(err), ms,
                p.exitValue() == 0 ? "" : runtimeLog());
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
        return res;
    }

    /**
     * Cleanup: retried while a backend is reported unavailable (a fresh headless runtime can take the command before
     * its drivers registered), so one such answer does not leak a container.
     */
    Result retry(String line) throws IOException, InterruptedException {
        Result r = run(line);
        for (int i = 0; i < 3 && r.exit != 0 && r.err.contains("unavailable"); i++) {
            Thread.sleep(1000);
            r = run(line);
        }
        return r;
    }

    /** Repeats a line until it succeeds, for a bounded time (a component that registers after start-up). */
    Result awaitOk(String line, int seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        Result r = run(line);
        while (r.exit != 0 && System.nanoTime() < deadline) {
            Thread.sleep(500);
            r = run(line);
        }
        if (r.exit != 0) {
            fail("not ready within " + seconds + " s: " + r.describe());
        }
        return r;
    }

    /** Runs a line that must succeed. */
    Result ok(String line) throws IOException, InterruptedException {
        Result r = run(line);
        if (r.exit != 0) {
            fail(r.describe());
        }
        return r;
    }

    String runtimeLog() throws IOException {
        StringBuilder b = new StringBuilder();
        for (Path l : new Path[] {state.resolve("runtime.out"), state.resolve("runtime.log")}) {
            if (Files.isRegularFile(l)) {
                List<String> lines = Files.readAllLines(l);
                b.append("== ").append(l.getFileName()).append('\n')
                        .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())))
                        .append('\n');
            }
        }
        return b.toString();
    }

    /** Property/value rows of a two-column table, e.g. nova:show. */
    static Map<String, String> properties(String table) {
        Map<String, String> m = new LinkedHashMap<>();
        for (List<String> row : rows(table)) {
            if (row.size() >= 2) {
                m.putIfAbsent(row.get(0), row.get(1));
            }
        }
        return m;
    }

    /** The cells of every row of a table, the header row included. */
    static List<List<String>> rows(String table) {
        List<List<String>> rows = new ArrayList<>();
        for (String line : table.split("\n")) {
            String t = line.strip();
            if (!t.startsWith("|")) {
                continue;
            }
            String[] cells = t.substring(1, t.endsWith("|") ? t.length() - 1 : t.length()).split("\\|", -1);
            List<String> row = new ArrayList<>();
            for (String c : cells) {
                row.add(c.strip());
            }
            rows.add(row);
        }
        return rows;
    }

    private final Map<String, String> uuids = new LinkedHashMap<>();

    String uuidOf(String name) {
        return uuids.get(name);
    }

    Map<String, String> show(String name) throws IOException, InterruptedException {
        Map<String, String> m = properties(ok("nova:show " + name).out());
        uuids.put(name, m.get("id"));
        return m;
    }

    /**
     * Last resort after a failed test: removes engine objects of the test's scope that Berth did not delete, so a
     * failure does not leave containers behind; returns what it had to remove.
     */
    List<String> removeLeftovers() throws IOException, InterruptedException {
        List<String> left = new ArrayList<>();
        Sh.Out ps = Sh.run(60, "docker", "ps", "-aq", "--filter", "label=berth.scope=" + scope);
        for (String id : ps.out().split("\\s+")) {
            if (!id.isBlank()) {
                left.add("docker " + id);
                Sh.run(60, "docker", "rm", "-f", id);
            }
        }
        Path lxc = state.resolve("lxc");
        if (Files.isDirectory(lxc)) {
            try (Stream<Path> s = Files.list(lxc)) {
                for (Path c : s.filter(Files::isDirectory).toList()) {
                    String n = c.getFileName().toString();
                    if (n.startsWith(".") || !Files.isRegularFile(c.resolve("config"))) {
                        continue;
                    }
                    left.add("lxc " + n);
                    Sh.run(60, "lxc-stop", "-k", "-n", n, "-P", lxc.toString());
                    Sh.run(60, "lxc-destroy", "-n", n, "-P", lxc.toString());
                }
            }
        }
        return left;
    }

    /** Removes the Docker images the Docker backend made of these Berth images (tags berth/ID:*). */
    static void removeDockerImages(List<String> imageIds) throws IOException, InterruptedException {
        for (String id : imageIds) {
            String ref = "berth/" + id.toLowerCase(java.util.Locale.ROOT);
            for (String tag : Sh.run(60, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}", ref).out()
                    .split("\\s+")) {
                if (!tag.isBlank()) {
                    Sh.run(60, "docker", "rmi", tag);
                }
            }
        }
    }

    /** Removes the test's bridge and any DOCKER-USER rule that names it. */
    void removeBridge() throws IOException, InterruptedException {
        for (int i = 0; i < 20; i++) {
            Sh.Out rules = Sh.run(30, "iptables", "-w", "-S", "DOCKER-USER");
            String rule = rules.out().lines().filter(l -> l.startsWith("-A DOCKER-USER")
                    && (l.contains(" " + bridge + " ") || l.endsWith(" " + bridge))).findFirst().orElse(null);
            if (rule == null) {
                break;
            }
            List<String> argv = new ArrayList<>(List.of("iptables", "-w", "-D"));
            argv.addAll(List.of(rule.substring("-A ".length()).split(" ")));
            Sh.run(30, argv.toArray(String[]::new));
        }
        Sh.run(30, "ip", "link", "del", bridge);
    }

    // --- engines

    static boolean isRoot() throws IOException, InterruptedException {
        return "0".equals(Sh.run(10, "id", "-u").out().strip());
    }

    /** Checks what every test here needs; a missing piece skips on a developer's machine and fails in CI. */
    void requireBasics() throws IOException, InterruptedException {
        Assumptions.assumeTrue(Boolean.getBoolean("berth.e2e.it"),
                "runs in the integration-test phase, against the exported runtime/target/berth.jar");
        require(Files.isExecutable(source.resolve("berth")), "the launcher " + source.resolve("berth"));
        require(Files.isRegularFile(source.resolve("runtime/target/berth.jar")), "runtime/target/berth.jar");
        require(built(source.resolve("runtime/target"), "berth.runtime"), "a built berth.runtime bundle");
        for (String m : MODULES) {
            require(built(source.resolve(m).resolve("target"), "berth." + m), "a built " + m + " bundle");
        }
        require(isRoot(), "root (engines, bridges, namespaces)");
        require(Files.isExecutable(Path.of("/usr/bin/lxc-start")), "liblxc's tools (apt-get install lxc)");
        require(Files.isRegularFile(Path.of("/bin/busybox")), "/bin/busybox (apt-get install busybox-static)");
        require(Sh.run(30, "docker", "version", "--format", "{{.Server.Version}}").exit() == 0,
                "dockerd answering on /var/run/docker.sock");
        snapshotBuild();
    }

    static void require(boolean present, String what) {
        if (present) {
            return;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail("CI=true and this end-to-end test needs " + what);
        }
        Assumptions.abort("needs " + what);
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

    /** Image id of the local store's seed image of a container format. */
    String localImage(String containerFormat) throws IOException, InterruptedException {
        for (List<String> row : rows(ok("glance:images --source local").out())) {
            if (row.size() >= 4 && row.get(2).equals("local") && row.get(3).equals(containerFormat)
                    && row.get(1).equals("busybox")) {
                return row.get(0);
            }
        }
        fail("no local busybox image of container format " + containerFormat);
        return null;
    }

    static void assertOk(Result r) {
        assertEquals(0, r.exit(), r::describe);
    }
}
