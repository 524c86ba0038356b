package berth.runtime.internal.bench;

/**
 * Memory measured with all of a backend's bench instances running, before they were deleted.
 *
 * @param backend            backend name
 * @param instances          instances running when measured
 * @param cgroupBytes        sum of the instances' cgroup memory use ({@code memory.usage_in_bytes}, or
 *                           {@code memory.current} on cgroup v2), -1 when unreadable
 * @param supervisorBytes    proportional set size of the processes that hold each container's init from outside (the
 *                           parent of init: containerd-shim for Docker, the {@code lxc monitor} for LXC), summed;
 *                           memory the engine spends per instance that no container cgroup shows; -1 when unreadable
 * @param hostAvailableDelta fall of the host's MemAvailable from before the first boot, bytes (negative: it rose)
 * @param jvmRssDelta        growth of the runtime JVM's resident set over the same interval, bytes
 */
public record MemoryFigures(String backend, int instances, long cgroupBytes, long supervisorBytes,
        long hostAvailableDelta, long jvmRssDelta) {

    /** @return cgroup memory per instance in MiB, {@code NaN} when unknown */
    public double cgroupMbPerInstance() {
        return instances == 0 || cgroupBytes < 0 ? Double.NaN : cgroupBytes / 1048576.0 / instances;
    }

    /** @return supervisor (shim or monitor) memory (PSS) per instance in MiB, {@code NaN} when unknown */
    public double supervisorMbPerInstance() {
        return instances == 0 || supervisorBytes < 0 ? Double.NaN : supervisorBytes / 1048576.0 / instances;
    }

    /** @return host MemAvailable fall per instance in MiB */
    public double hostMbPerInstance() {
        return instances == 0 ? Double.NaN : hostAvailableDelta / 1048576.0 / instances;
    }

    /** @return JVM resident set growth in MiB (for the whole run of this backend) */
    public double jvmRssDeltaMb() {
        return jvmRssDelta / 1048576.0;
    }
}
