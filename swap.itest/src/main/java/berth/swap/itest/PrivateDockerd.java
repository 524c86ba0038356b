package berth.swap.itest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A dockerd of the test's own (socket, data-root, exec-root, pidfile below one short /tmp folder; no bridge, no
 * iptables; {@code --live-restore}), so the test may stop and start it without touching a user's engine. The
 * folder is fixed because the run descriptor names its socket as {@code berth.docker.host}.
 */
final class PrivateDockerd {
    private final Path dir;
    private Process process;

    PrivateDockerd(Path dir) {
        this.dir = dir;
    }

    String host() {
        return "unix://" + dir.resolve("d.sock");
    }

    Path dir() {
        return dir;
    }

    void start() throws IOException {
        Files.createDirectories(dir);
        List<String> cmd = List.of("/usr/sbin/dockerd", "--host", host(), "--data-root", dir.resolve("data").toString(),
                "--exec-root", dir.resolve("x").toString(), "--pidfile", dir.resolve("d.pid").toString(),
                "--bridge=none", "--iptables=false", "--ip-masq=false", "--live-restore", "--log-level=warn");
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("dockerd.log").toFile())).start();
    }

    /** @return whether it answered within the deadline */
    boolean awaitAnswer(long seconds) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() - end < 0) {
            if (Engines.run(5, "docker", "-H", host(), "version", "--format", "{{.Server.Version}}").code() == 0) {
                return true;
            }
            if (process != null && !process.isAlive()) {
                return false;
            }
            Thread.sleep(50);
        }
        return false;
    }

    /** SIGTERM and wait; with live-restore its containers keep running. */
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        process = null;
    }

    /** Stops it, the containerd live-restore leaves behind, and any dockerd of an earlier run; removes the folder. */
    void destroy() throws IOException, InterruptedException {
        stop();
        for (Path pidFile : List.of(dir.resolve("d.pid"), dir.resolve("x/containerd/containerd.pid"))) {
            if (Files.exists(pidFile)) {
                try {
                    long pid = Long.parseLong(Files.readString(pidFile).strip());
                    ProcessHandle.of(pid).ifPresent(p -> {
                        p.destroy();
                        p.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(t -> {
                            p.destroyForcibly();
                            return p;
                        }).join();
                    });
                } catch (NumberFormatException e) {
                    // a pid file cut short: nothing to stop
                }
            }
        }
        if (!Files.exists(dir)) {
            return;
        }
        // dockerd bind-mounts its data-root onto itself and may leave overlay mounts: unmount, deepest first
        List<String> mounts = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String point = line.split(" ")[4];
            if (point.startsWith(dir + "/") || point.equals(dir.toString())) {
                mounts.add(point);
            }
        }
        mounts.sort(Comparator.comparingInt(String::length).reversed());
        for (String m : mounts) {
            Engines.run(30, "umount", "-l", m);
        }
        Engines.run(120, "rm", "-rf", "--one-file-system", dir.toString());
    }
}
