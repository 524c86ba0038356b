package berth.driver.api;

import java.util.Map;

/**
 * What a backend's host offers and what Berth's instances on it use, as Nova's hypervisor statistics.
 *
 * @param backend             backend name
 * @param cpus                CPUs of the host
 * @param memoryBytes         total memory of the host
 * @param diskBytes           size of the filesystem holding the backend's containers
 * @param diskFreeBytes       free space on it
 * @param instances           Berth instances the backend holds
 * @param vcpusUsed           vCPUs given to those instances
 * @param memoryUsedBytes     memory limits given to those instances
 * @param extra               backend-specific facts (engine version, storage driver, suspend mode ...)
 */
public record HostResources(String backend, int cpus, long memoryBytes, long diskBytes, long diskFreeBytes,
        int instances, int vcpusUsed, long memoryUsedBytes, Map<String, String> extra) {
    public HostResources {
        extra = Map.copyOf(extra == null ? Map.of() : extra);
    }
}
