package berth.runtime.internal.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads memory figures from procfs and the cgroup filesystem (v1 or v2). */
final class MemoryProbe {

    private final Path proc;
    private final Path cgroupRoot;

    MemoryProbe() {
        this(Path.of("/proc"), Path.of("/sys/fs/cgroup"));
    }

    MemoryProbe(Path proc, Path cgroupRoot) {
        this.proc = proc;
        this.cgroupRoot = cgroupRoot;
    }

    /**
     * @param pid a process inside the container (its init)
     * @return the memory in use by the process's memory cgroup, or -1 when it cannot be read
     */
    long cgroupBytes(long pid) {
        if (pid <= 0) {
            return -1;
        }
        try {
            for (String line : Files.readAllLines(proc.resolve(Long.toString(pid)).resolve("cgroup"))) {
                String[] f = line.split(":", 3);
                if (f.length < 3) {
                    continue;
                }
                String rel = f[2].startsWith("/") ? f[2].substring(1) : f[2];
                if (List.of(f[1].split(",")).contains("memory")) {
                    return readLong(cgroupRoot.resolve("memory").resolve(rel).resolve("memory.usage_in_bytes"));
                }
                if (f[0].equals("0") && f[1].isEmpty()) {
                    Path v2 = cgroupRoot.resolve(rel).resolve("memory.current");
                    if (Files.exists(v2)) {
                        return readLong(v2);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * @param pid a process
     * @return its parent's pid, or -1
     */
    long parent(long pid) {
        return field(proc.resolve(Long.toString(pid)).resolve("status"), "PPid:");
    }

    /**
     * @param pid a process
     * @return its resident set in bytes, -1 when unreadable
     */
    long rss(long pid) {
        return kbField(proc.resolve(Long.toString(pid)).resolve("status"), "VmRSS:");
    }

    /**
     * @param pid a process
     * @return its proportional set size in bytes (shared pages divided among the processes sharing them, so
     *         a sum over many shims counts their common text once), or its resident set when the kernel has no
     *         {@code smaps_rollup}; -1 when unreadable
     */
    long pss(long pid) {
        long pss = kbField(proc.resolve(Long.toString(pid)).resolve("smaps_rollup"), "Pss:");
        return pss >= 0 ? pss : rss(pid);
    }

    /** @return MemAvailable of the host in bytes, -1 when unreadable */
    long memAvailable() {
        return kbField(proc.resolve("meminfo"), "MemAvailable:");
    }

    /** @return resident set of this JVM in bytes, -1 when unreadable */
    long jvmRss() {
        return kbField(proc.resolve("self").resolve("status"), "VmRSS:");
    }

    private static long kbField(Path file, String key) {
        long v = field(file, key);
        return v < 0 ? -1 : v * 1024;
    }

    private static long field(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) {
                    String[] f = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(f[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private static long readLong(Path file) throws IOException {
        return Long.parseLong(Files.readString(file).trim());
    }
}
