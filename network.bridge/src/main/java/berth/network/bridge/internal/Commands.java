package berth.network.bridge.internal;

import berth.driver.api.EngineException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs tools with argument vectors, never through a shell. Each run is bounded by a timeout.
 *
 * @param ip       path of iproute2's {@code ip}
 * @param nsenter  path of util-linux's {@code nsenter}
 * @param iptables path of {@code iptables}
 */
record Commands(String ip, String nsenter, String iptables) {

    /** Result of one run. */
    record Result(int exit, String output) {
        boolean ok() {
            return exit == 0;
        }
    }

    private static final long TIMEOUT_MS = 10_000;

    /**
     * Finds the tools: an explicit path (framework property) wins, else the usual sbin/bin directories.
     */
    static Commands locate(String ip, String nsenter, String iptables) {
        return new Commands(find("ip", ip), find("nsenter", nsenter), find("iptables", iptables));
    }

    private static String find(String tool, String explicit) {
        if (explicit != null && !explicit.isBlank()) {
            return explicit;
        }
        for (String d : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin")) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return tool;
    }

    /** Runs {@code ip -batch -} with the given lines; stops at the first failing line. */
    Result ipBatch(String batch) {
        return run(List.of(ip, "-batch", "-"), batch);
    }

    /** Runs {@code ip -batch -} inside the network namespace of {@code pid}: one process (nsenter execs ip). */
    Result ipBatchIn(long pid, String batch) {
        return run(List.of(nsenter, "--net=/proc/" + pid + "/ns/net", "--", ip, "-batch", "-"), batch);
    }

    Result run(List<String> argv, String stdin) {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        if (stdin == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new EngineException("cannot run " + argv.get(0) + ": " + e.getMessage(), e);
        }
        try {
            if (stdin != null) {
                try (OutputStream out = p.getOutputStream()) {
                    out.write(stdin.getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // The tool exited early (a failed line); its exit code and output say why.
                }
            }
            // Outputs are a few lines, far below the pipe buffer, so the tool never blocks writing and waiting first
            // keeps the whole run bounded by the timeout.
            if (!p.waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new EngineException(String.join(" ", argv) + " did not finish within " + TIMEOUT_MS + " ms");
            }
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes();
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            p.destroyForcibly();
            throw new EngineException("cannot run " + argv.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted while running " + argv.get(0), e);
        }
    }
}
