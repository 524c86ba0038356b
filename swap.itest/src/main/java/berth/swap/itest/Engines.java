package berth.swap.itest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Looks at the engines directly (docker and lxc-info command lines), to check what the runtime says against
 * what really runs. Engine missing: the test fails when CI=true, otherwise it is skipped.
 */
final class Engines {
    private Engines() {
    }

    record Result(int code, String out) {
    }

    static Result run(long timeoutSeconds, String... argv) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            p.getOutputStream().close();
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            Thread reader = new Thread(() -> {
                try (InputStream in = p.getInputStream()) {
                    in.transferTo(buf);
                } catch (IOException ignored) {
                    // process gone
                }
            });
            reader.setDaemon(true);
            reader.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "timed out: " + String.join(" ", argv));
            }
            reader.join(2000);
            return new Result(p.exitValue(), buf.toString(StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            return new Result(-2, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-3, "interrupted");
        }
    }

    /** The engine the driver uses (the run's {@code berth.docker.host}); set by the test before any call. */
    static volatile String dockerHost = "";

    /** Docker CLI against the engine the driver uses. */
    static Result docker(String... args) {
        List<String> argv = new ArrayList<>();
        argv.add("docker");
        String host = dockerHost;
        if (!host.isBlank()) {
            argv.add("-H");
            argv.add(host);
        }
        argv.addAll(List.of(args));
        return run(60, argv.toArray(String[]::new));
    }

    static void requireEngines() {
        List<String> missing = new ArrayList<>();
        if (!java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/sbin/dockerd"))
                || run(20, "docker", "--version").code() != 0) {
            missing.add("dockerd and the docker CLI (apt-get install docker.io)");
        }
        Result l = run(20, "lxc-ls", "--version");
        if (l.code() != 0) {
            missing.add("LXC (lxc-ls --version: " + l.out() + "; apt-get install lxc)");
        }
        if (!missing.isEmpty()) {
            String msg = "engines missing: " + String.join(", ", missing);
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                Assertions.fail(msg + " (CI=true: this test must run)");
            }
            Assumptions.abort(msg);
        }
    }

    /** @return "running pid startedAt" of a Docker container, or the CLI's error */
    static String dockerState(String container) {
        Result r = docker("inspect", "-f", "{{.State.Running}} {{.State.Pid}} {{.State.StartedAt}}", container);
        return r.code() == 0 ? r.out() : "error: " + r.out();
    }

    /** @return "STATE pid" of an LXC container under {@code lxcpath} */
    static String lxcState(String lxcpath, String name) {
        Result r = run(20, "lxc-info", "-P", lxcpath, "-n", name, "-s", "-p", "-H");
        return r.code() == 0 ? r.out().replaceAll("\\s+", " ") : "error: " + r.out();
    }
}
