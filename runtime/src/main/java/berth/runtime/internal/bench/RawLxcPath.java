package berth.runtime.internal.bench;

import berth.driver.api.io.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The reference path for LXC: the stock tools as child processes, {@code lxc-create -t busybox},
 * {@code lxc-start -d}, {@code lxc-stop -k}, {@code lxc-destroy}, under an lxcpath of the benchmark's own
 * ({@code ${berth.state.dir}/bench/lxc}), so nothing of Berth's or a user's is ever listed or touched.
 */
final class RawLxcPath {

    private static final long TIMEOUT_SECONDS = 60;

    private final Path lxcpath;
    private final long memoryBytes;

    RawLxcPath(Path lxcpath, long memoryBytes) {
        this.lxcpath = lxcpath;
        this.memoryBytes = memoryBytes;
    }

    String name(int n) {
        return "bench-raw-" + n;
    }

    Path lxcpath() {
        return lxcpath;
    }

    /** Network empty and no AppArmor, as Berth's own containers; the memory limit of the benchmark's flavor. */
    private Path config() throws IOException {
        Files.createDirectories(lxcpath);
        Path conf = lxcpath.resolve("bench.conf");
        String text = "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n"
                + (Files.isDirectory(Path.of("/sys/fs/cgroup/memory"))
                        ? "lxc.cgroup.memory.limit_in_bytes = " + memoryBytes + "\n"
                        : "lxc.cgroup2.memory.max = " + memoryBytes + "\n");
        if (!Files.exists(conf) || !Files.readString(conf).equals(text)) {
            DurableFiles.write(conf, text.getBytes(StandardCharsets.UTF_8));
        }
        return conf;
    }

    void create(int n) throws IOException, InterruptedException {
        run("lxc-create", "-q", "-n", name(n), "-P", lxcpath.toString(), "-t", "busybox", "-f", config().toString());
    }

    void start(int n) throws IOException, InterruptedException {
        run("lxc-start", "-n", name(n), "-P", lxcpath.toString(), "-d");
    }

    void stop(int n) throws IOException, InterruptedException {
        run("lxc-stop", "-k", "-n", name(n), "-P", lxcpath.toString());
    }

    void destroy(int n) throws IOException, InterruptedException {
        run("lxc-destroy", "-n", name(n), "-P", lxcpath.toString());
    }

    /**
     * Stops and destroys every container under the benchmark's lxcpath.
     *
     * @return the names removed
     */
    List<String> removeLeftovers() throws IOException, InterruptedException {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(lxcpath)) {
            return removed;
        }
        List<Path> dirs;
        try (Stream<Path> s = Files.list(lxcpath)) {
            dirs = s.filter(p -> p.getFileName().toString().startsWith("bench-") && Files.isDirectory(p)).toList();
        }
        for (Path d : dirs) {
            String name = d.getFileName().toString();
            ProcessResult stop = exec(List.of("lxc-stop", "-k", "-n", name, "-P", lxcpath.toString()));
            ProcessResult destroy = exec(List.of("lxc-destroy", "-n", name, "-P", lxcpath.toString()));
            if (destroy.exit() != 0 && Files.exists(d)) {
                throw new IOException("cannot destroy leftover " + name + " under " + lxcpath + ": "
                        + destroy.output() + " " + stop.output());
            }
            removed.add(name);
        }
        return removed;
    }

    private void run(String... argv) throws IOException, InterruptedException {
        ProcessResult r = exec(List.of(argv));
        if (r.exit() != 0) {
            throw new IOException(String.join(" ", argv) + ": exit " + r.exit()
                    + (r.output().isBlank() ? "" : ": " + r.output().strip().replace('\n', ' ')));
        }
    }

    record ProcessResult(int exit, String output) {
    }

    private static ProcessResult exec(List<String> argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null"))).start();
        try {
            byte[] out;
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + ": no exit within " + TIMEOUT_SECONDS + " s");
            }
            out = p.getInputStream().readAllBytes();
            String text = new String(out, StandardCharsets.UTF_8);
            return new ProcessResult(p.exitValue(), text.length() > 500 ? text.substring(0, 500) : text);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            throw e;
        }
    }
}
