package berth.driver.lxc.internal;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a tool as a child process from an argument vector (never a shell string). Output goes to files rather
 * than pipes: {@code lxc-start -d} leaves a monitor holding its stdout and stderr open for the container's whole
 * life, so a pipe would never reach end-of-file.
 */
final class ChildProcess {
    private static final int MAX_OUTPUT = 4 << 20;

    /** Result of a finished (or killed) child. */
    record Result(int exit, String stdout, String stderr, boolean timedOut) {
    }

    private ChildProcess() {
    }

    static Result run(List<String> argv, Map<String, String> env, Duration timeout, Path outDir) throws IOException {
        Files.createDirectories(outDir);
        Path out = Files.createTempFile(outDir, ".out-", "");
        Path err = Files.createTempFile(outDir, ".err-", "");
        try {
            ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(new File("/dev/null"))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            if (env != null) {
                pb.environment().clear();
                pb.environment().putAll(env);
            }
            Process p = pb.start();
            boolean done;
            try {
                done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while running " + argv.get(0));
            }
            if (!done) {
                p.destroyForcibly();
                try {
                    p.waitFor(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return new Result(done ? p.exitValue() : -1, read(out), read(err), !done);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String read(Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            return new String(in.readNBytes(MAX_OUTPUT), StandardCharsets.UTF_8);
        }
    }
}
