package berth.runtime.itest.fake;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Diagnostics;
import berth.driver.api.EngineException;
import berth.driver.api.ExecResult;
import berth.driver.api.HostResources;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * TEST ONLY: an in-memory "engine" whose containers are lines in a properties file, so that they survive the
 * driver bundle being stopped and started again (as real containers survive a driver restart). Never shipped.
 */
public final class FakeComputeDriver implements ComputeDriver {
    private final String name;
    private final Path file;
    private final Properties containers = new Properties();

    public FakeComputeDriver(String name, Path file) throws IOException {
        this.name = name;
        this.file = file;
        Files.createDirectories(file.getParent());
        if (Files.exists(file)) {
            try (InputStream in = Files.newInputStream(file)) {
                containers.load(in);
            }
        }
    }

    private synchronized void save() {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                containers.store(out, "fake " + name);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new EngineException("fake " + name + ": " + e.getMessage(), e);
        }
    }

    private synchronized DriverInstance set(String uuid, PowerState state) {
        String image = get(uuid).imageId();
        containers.setProperty(uuid, state.name() + "," + image);
        save();
        return get(uuid);
    }

    private synchronized DriverInstance get(String uuid) {
        String v = containers.getProperty(uuid);
        if (v == null) {
            throw new NotFoundException("fake " + name + ": no container " + uuid);
        }
        String[] parts = v.split(",", 2);
        PowerState state = PowerState.valueOf(parts[0]);
        return new DriverInstance(uuid, name + "-" + uuid, state, 0, -1, parts.length > 1 ? parts[1] : null);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String engineVersion() {
        return "fake-1.0";
    }

    @Override
    public Set<ContainerFormat> nativeFormats() {
        return Set.of(ContainerFormat.DOCKER, ContainerFormat.BARE);
    }

    @Override
    public synchronized DriverInstance spawn(SpawnSpec spec) {
        if (containers.containsKey(spec.uuid())) {
            throw new ConflictException("fake " + name + ": container " + spec.uuid() + " exists");
        }
        containers.setProperty(spec.uuid(), PowerState.RUNNING.name() + "," + spec.image().info().id());
        save();
        return get(spec.uuid());
    }

    @Override
    public synchronized void destroy(String uuid) {
        containers.remove(uuid);
        save();
    }

    @Override
    public DriverInstance reboot(String uuid, RebootType type, Duration timeout) {
        return set(uuid, PowerState.RUNNING);
    }

    @Override
    public DriverInstance powerOff(String uuid, Duration timeout) {
        return set(uuid, PowerState.SHUTDOWN);
    }

    @Override
    public DriverInstance powerOn(String uuid) {
        return set(uuid, PowerState.RUNNING);
    }

    @Override
    public DriverInstance pause(String uuid) {
        return set(uuid, PowerState.PAUSED);
    }

    @Override
    public DriverInstance unpause(String uuid) {
        return set(uuid, PowerState.RUNNING);
    }

    @Override
    public DriverInstance suspend(String uuid) {
        return set(uuid, PowerState.SUSPENDED);
    }

    @Override
    public DriverInstance resume(String uuid) {
        return set(uuid, PowerState.RUNNING);
    }

    @Override
    public SnapshotStream snapshot(String uuid) {
        throw new EngineException("fake " + name + ": no snapshots");
    }

    @Override
    public DriverInstance info(String uuid) {
        return get(uuid);
    }

    @Override
    public synchronized List<DriverInstance> list() {
        List<DriverInstance> out = new ArrayList<>();
        for (String uuid : containers.stringPropertyNames()) {
            out.add(get(uuid));
        }
        return out;
    }

    @Override
    public String consoleOutput(String uuid, int lines) {
        get(uuid);
        return "console of " + uuid + " on " + name + "\n";
    }

    @Override
    public ExecResult exec(String uuid, List<String> argv, Map<String, String> env, Duration timeout) {
        get(uuid);
        return new ExecResult(0, String.join("|", argv) + "\n", "");
    }

    @Override
    public Diagnostics diagnostics(String uuid) {
        get(uuid);
        return new Diagnostics(0, 0, 0, 1, 0, Map.of());
    }

    @Override
    public synchronized HostResources hostResources() {
        return new HostResources(name, 1, 1L << 30, 1L << 30, 1L << 29, containers.size(), 0, 0, Map.of());
    }
}
