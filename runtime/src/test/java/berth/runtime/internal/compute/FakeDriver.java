package berth.runtime.internal.compute;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Diagnostics;
import berth.driver.api.DiskFormat;
import berth.driver.api.ExecResult;
import berth.driver.api.HostResources;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.SnapshotStream;
import berth.driver.api.spi.SpawnSpec;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/** A compute driver for unit tests of the manager's logic: containers are map entries. */
class FakeDriver implements ComputeDriver {

    static final class Container {
        volatile PowerState power = PowerState.RUNNING;
        volatile long pid;
        volatile int exit = -1;
        final SpawnSpec spec;

        Container(SpawnSpec spec, long pid) {
            this.spec = spec;
            this.pid = pid;
        }
    }

    final String name;
    final Set<ContainerFormat> formats;
    final Map<String, Container> containers = new ConcurrentHashMap<>();
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    final Map<String, RuntimeException> failures = new ConcurrentHashMap<>();
    final AtomicLong pids = new AtomicLong(1000);
    final Map<String, AtomicInteger> active = new ConcurrentHashMap<>();
    final AtomicInteger maxActivePerInstance = new AtomicInteger();
    final AtomicBoolean snapshotClosed = new AtomicBoolean();
    volatile BiConsumer<String, String> hook = (op, uuid) -> { };
    /** Power a stop leaves behind: a busybox init ignoring SIGTERM is killed, exit 137, which engines call a crash. */
    volatile PowerState powerAfterStop = PowerState.CRASHED;
    volatile boolean resumeNewPid;
    /** What list() answers instead of the truth, to play a listing taken before an operation finished. */
    volatile List<DriverInstance> staleList;

    FakeDriver(String name, ContainerFormat... formats) {
        this.name = name;
        this.formats = Set.of(formats);
    }

    private void enter(String op, String uuid) {
        calls.add(op + " " + uuid);
        RuntimeException f = failures.get(op);
        if (f != null) {
            throw f;
        }
        int n = active.computeIfAbsent(uuid, k -> new AtomicInteger()).incrementAndGet();
        maxActivePerInstance.accumulateAndGet(n, Math::max);
        try {
            hook.accept(op, uuid);
        } catch (RuntimeException e) {
            active.get(uuid).decrementAndGet();
            throw e;
        }
    }

    private void leave(String uuid) {
        active.get(uuid).decrementAndGet();
    }

    private Container get(String uuid) {
        Container c = containers.get(uuid);
        if (c == null) {
            throw new NotFoundException("no container for " + uuid);
        }
        return c;
    }

    private DriverInstance view(String uuid, Container c) {
        return new DriverInstance(uuid, name + "-" + uuid, c.power, c.power == PowerState.RUNNING
                || c.power == PowerState.PAUSED || c.power == PowerState.SUSPENDED ? c.pid : 0, c.exit,
                c.spec.image().info().id());
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String engineVersion() {
        return name + "-engine 1.0";
    }

    @Override
    public Set<ContainerFormat> nativeFormats() {
        return formats;
    }

    @Override
    public DriverInstance spawn(SpawnSpec spec) {
        enter("spawn", spec.uuid());
        try {
            if (containers.containsKey(spec.uuid())) {
                throw new ConflictException("exists");
            }
            Container c = new Container(spec, pids.incrementAndGet());
            containers.put(spec.uuid(), c);
            return view(spec.uuid(), c);
        } finally {
            leave(spec.uuid());
        }
    }

    @Override
    public void releaseImage(String imageId) {
        calls.add("releaseImage " + imageId);
    }

    @Override
    public void destroy(String uuid) {
        enter("destroy", uuid);
        try {
            containers.remove(uuid);
        } finally {
            leave(uuid);
        }
    }

    @Override
    public DriverInstance reboot(String uuid, RebootType type, Duration timeout) {
        enter("reboot-" + type.name().toLowerCase(), uuid);
        try {
            Container c = get(uuid);
            c.power = PowerState.RUNNING;
            c.pid = pids.incrementAndGet();
            return view(uuid, c);
        } finally {
            leave(uuid);
        }
    }

    @Override
    public DriverInstance powerOff(String uuid, Duration timeout) {
        enter("powerOff", uuid);
        try {
            Container c = get(uuid);
            c.power = powerAfterStop;
            c.exit = 137;
            return view(uuid, c);
        } finally {
            leave(uuid);
        }
    }

    @Override
    public DriverInstance powerOn(String uuid) {
        enter("powerOn", uuid);
        try {
            Container c = get(uuid);
            c.power = PowerState.RUNNING;
            c.exit = -1;
            c.pid = pids.incrementAndGet();
            return view(uuid, c);
        } finally {
            leave(uuid);
        }
    }

    private DriverInstance set(String op, String uuid, PowerState from, PowerState to) {
        enter(op, uuid);
        try {
            Container c = get(uuid);
            if (c.power != from) {
                throw new ConflictException(op + ": container is " + c.power);
            }
            c.power = to;
            return view(uuid, c);
        } finally {
            leave(uuid);
        }
    }

    @Override
    public DriverInstance pause(String uuid) {
        return set("pause", uuid, PowerState.RUNNING, PowerState.PAUSED);
    }

    @Override
    public DriverInstance unpause(String uuid) {
        return set("unpause", uuid, PowerState.PAUSED, PowerState.RUNNING);
    }

    @Override
    public DriverInstance suspend(String uuid) {
        return set("suspend", uuid, PowerState.RUNNING, PowerState.SUSPENDED);
    }

    @Override
    public DriverInstance resume(String uuid) {
        DriverInstance di = set("resume", uuid, PowerState.SUSPENDED, PowerState.RUNNING);
        if (resumeNewPid) {
            Container c = get(uuid);
            c.pid = pids.incrementAndGet();
            return view(uuid, c);
        }
        return di;
    }

    @Override
    public SnapshotStream snapshot(String uuid) {
        enter("snapshot", uuid);
        try {
            get(uuid);
            return new SnapshotStream(ContainerFormat.DOCKER, DiskFormat.RAW,
                    new ByteArrayInputStream(new byte[100_000]), () -> snapshotClosed.set(true));
        } finally {
            leave(uuid);
        }
    }

    @Override
    public DriverInstance info(String uuid) {
        return view(uuid, get(uuid));
    }

    @Override
    public List<DriverInstance> list() {
        RuntimeException f = failures.get("list");
        if (f != null) {
            throw f;
        }
        if (staleList != null) {
            return staleList;
        }
        List<DriverInstance> l = new ArrayList<>();
        containers.forEach((u, c) -> l.add(view(u, c)));
        return l;
    }

    @Override
    public String consoleOutput(String uuid, int lines) {
        get(uuid);
        return "console of " + uuid + " (" + lines + ")";
    }

    @Override
    public ExecResult exec(String uuid, List<String> argv, Map<String, String> env, Duration timeout) {
        enter("exec", uuid);
        try {
            get(uuid);
            return new ExecResult(0, String.join(" ", argv), "");
        } finally {
            leave(uuid);
        }
    }

    @Override
    public Diagnostics diagnostics(String uuid) {
        get(uuid);
        return new Diagnostics(1, 2, 3, 4, 5, Map.of());
    }

    @Override
    public HostResources hostResources() {
        return new HostResources(name, 2, 1L << 34, 1L << 40, 1L << 39, containers.size(), 0, 0,
                Map.of("suspend.mode", "freezer"));
    }
}
