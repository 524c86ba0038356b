package berth.driver.docker.internal;

import berth.driver.api.EngineException;
import berth.driver.api.io.DurableFiles;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the driver knows about a container that Docker cannot say: that a stop was asked for (so its exit is a
 * SHUTDOWN, not a crash) and that a pause is a suspend. Labels cannot change on a live container, so these are
 * small durable files, one per uuid and mark, under {@code ${berth.state.dir}/docker/<scope>/}, mirrored in memory
 * so that listing reads no files.
 */
final class DriverMarks {
    static final String STOPPED = "stop-requested";
    static final String SUSPENDED = "suspended";

    private final Path dir;
    private final Set<String> marks = ConcurrentHashMap.newKeySet();

    DriverMarks(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path f : files) {
                    String n = f.getFileName().toString();
                    if (n.endsWith("." + STOPPED) || n.endsWith("." + SUSPENDED)) {
                        marks.add(n);
                    } else if (n.startsWith(".")) {
                        Files.deleteIfExists(f);
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot use driver state directory " + dir + ": " + e.getMessage(), e);
        }
    }

    boolean has(String uuid, String mark) {
        return marks.contains(uuid + "." + mark);
    }

    void set(String uuid, String mark, boolean on) {
        String key = uuid + "." + mark;
        if (on == marks.contains(key)) {
            return;
        }
        try {
            if (on) {
                DurableFiles.write(dir.resolve(key), new byte[0]);
                marks.add(key);
            } else {
                marks.remove(key);
                DurableFiles.delete(dir.resolve(key));
            }
        } catch (IOException e) {
            throw new EngineException("cannot record " + mark + " for " + uuid + ": " + e.getMessage(), e);
        }
    }

    void forget(String uuid) {
        set(uuid, STOPPED, false);
        set(uuid, SUSPENDED, false);
    }
}
