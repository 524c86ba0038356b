package berth.driver.docker.internal;

import berth.driver.api.EngineException;
import berth.driver.api.io.DurableFiles;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What the driver knows about a container that Docker cannot say: that a stop was asked for (so its exit is a
 * SHUTDOWN, not a crash) and that a pause is a suspend. Labels cannot change on a live container, so these are
 * small durable files, one per uuid and mark, under {@code ${berth.state.dir}/docker/<scope>/}. They are read from
 * disk each time (a stat), so two builds of the driver running side by side during a hot swap agree.
 */
final class DriverMarks {
    static final String STOPPED = "stop-requested";
    static final String SUSPENDED = "suspended";

    private final Path dir;

    DriverMarks(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot use driver state directory " + dir + ": " + e.getMessage(), e);
        }
    }

    boolean has(String uuid, String mark) {
        return Files.exists(dir.resolve(uuid + "." + mark));
    }

    void set(String uuid, String mark, boolean on) {
        Path file = dir.resolve(uuid + "." + mark);
        try {
            if (on && !Files.exists(file)) {
                DurableFiles.write(file, new byte[0]);
            } else if (!on && Files.exists(file)) {
                DurableFiles.delete(file);
            }
        } catch (IOException e) {
            throw new EngineException("cannot record " + mark + " for " + uuid + ": " + e.getMessage(), e);
        }
    }

    /** Forgets the marks of uuids in neither set (a spawn may be adding one right now: it is in the cache). */
    void retainOnly(Set<String> listed, Set<String> cached) {
        List<String> uuids = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String n = f.getFileName().toString();
                int dot = n.lastIndexOf('.');
                if (dot > 0 && !n.startsWith(".")) {
                    uuids.add(n.substring(0, dot));
                }
            }
        } catch (IOException e) {
            return; // tidying only
        }
        for (String uuid : uuids) {
            if (!listed.contains(uuid) && !cached.contains(uuid)) {
                forget(uuid);
            }
        }
    }

    void forget(String uuid) {
        set(uuid, STOPPED, false);
        set(uuid, SUSPENDED, false);
    }
}
