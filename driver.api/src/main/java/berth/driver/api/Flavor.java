package berth.driver.api;

import java.util.Objects;

/**
 * A size of instance, as Nova's flavors: memory and virtual CPUs become the container's cgroup limits.
 *
 * @param name      flavor name, for example {@code c1.small}
 * @param memoryMb  memory limit in MiB, at least 4
 * @param vcpus     virtual CPUs (CPU shares are 1024 per vCPU), at least 1
 * @param pidsLimit the most processes the instance may hold, at least 16
 */
public record Flavor(String name, int memoryMb, int vcpus, int pidsLimit) {
    public Flavor {
        Objects.requireNonNull(name, "name");
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new InvalidInputException("invalid flavor name '" + name + "'");
        }
        if (memoryMb < 4) {
            throw new InvalidInputException("flavor " + name + ": memory must be at least 4 MB, got " + memoryMb);
        }
        if (vcpus < 1 || vcpus > 1024) {
            throw new InvalidInputException("flavor " + name + ": vcpus must be 1..1024, got " + vcpus);
        }
        if (pidsLimit < 16) {
            throw new InvalidInputException("flavor " + name + ": pids limit must be at least 16, got " + pidsLimit);
        }
    }

    /** @return the memory limit in bytes */
    public long memoryBytes() {
        return memoryMb * 1024L * 1024L;
    }
}
