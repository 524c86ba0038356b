package berth.runtime.internal.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What {@code nova:bench} was asked to do.
 *
 * @param backends  backends to measure, empty for every backend present
 * @param count     instances per backend
 * @param parallel  operations in flight at once
 * @param image     image id or name booted (cached by a warm-up boot before measuring)
 * @param flavor    flavor name
 * @param networks  networks each instance gets a VIF on; empty for none
 * @param out       folder the report is written to
 * @param waitFor   how long to wait for the compute service, the backends and the image to appear
 * @param raw       whether to measure the engine's own path as the reference
 * @param stopTimeout grace period of a stop, for Berth and the raw path alike
 */
record BenchOptions(List<String> backends, int count, int parallel, String image, String flavor,
        List<String> networks, Path out, Duration waitFor, boolean raw, Duration stopTimeout) {

    BenchOptions {
        backends = List.copyOf(backends);
        networks = List.copyOf(networks);
        if (count < 1 || count > 1000) {
            throw new IllegalArgumentException("--count must be between 1 and 1000");
        }
        if (parallel < 1 || parallel > 64) {
            throw new IllegalArgumentException("--parallel must be between 1 and 64");
        }
    }
}
