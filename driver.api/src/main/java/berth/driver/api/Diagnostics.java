package berth.driver.api;

import java.util.Map;

/**
 * Resource use of one instance, read from its cgroup or the engine's statistics.
 *
 * @param cpuTimeNanos     CPU time consumed, in nanoseconds
 * @param memoryBytes      memory in use
 * @param memoryLimitBytes memory limit in force (0 when none)
 * @param pids             number of processes
 * @param pidsLimit        process limit in force (0 when none)
 * @param extra            backend-specific figures
 */
public record Diagnostics(long cpuTimeNanos, long memoryBytes, long memoryLimitBytes, long pids, long pidsLimit,
        Map<String, String> extra) {
    public Diagnostics {
        extra = Map.copyOf(extra == null ? Map.of() : extra);
    }
}
