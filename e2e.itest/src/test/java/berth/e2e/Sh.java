package berth.e2e;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a host command with an argument vector and a bound on its time. */
final class Sh {
    record Out(int exit, String out, String err) {
    }

    private Sh() {
    }

    static Out run(long timeoutSeconds, String... argv) throws IOException, InterruptedException {
        return run(timeoutSeconds, Map.of(), argv);
    }

    static Out run(long timeoutSeconds, Map<String, String> env, String... argv)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile("berth-e2e-sh", ".out");
        Path err = Files.createTempFile("berth-e2e-sh", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(List.of(argv)).redirectOutput(out.toFile())
                    .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                return new Out(-1, Files.readString(out), "timed out after " + timeoutSeconds + " s: "
                        + String.join(" ", argv) + "\n" + Files.readString(err));
            }
            return new Out(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
