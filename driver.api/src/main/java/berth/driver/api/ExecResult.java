package berth.driver.api;

import java.util.Objects;

/**
 * Outcome of a command run inside an instance.
 *
 * @param exitCode the command's exit status (128 + signal when killed)
 * @param stdout   what it wrote to standard output
 * @param stderr   what it wrote to standard error
 */
public record ExecResult(int exitCode, String stdout, String stderr) {
    public ExecResult {
        Objects.requireNonNull(stdout, "stdout");
        Objects.requireNonNull(stderr, "stderr");
    }
}
