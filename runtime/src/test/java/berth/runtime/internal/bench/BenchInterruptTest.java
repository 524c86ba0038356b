package berth.runtime.internal.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BackendStatus;
import berth.driver.api.ComputeService;
import berth.driver.api.EngineException;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.Instance;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.VmState;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.DriverInstance;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark's bookkeeping against an in-memory compute service (engines are covered by BenchLauncherIT):
 * an interrupted run removes everything it booted, a new run removes what an earlier one left, and a complete run
 * deletes all its instances and reports every operation.
 */
class BenchInterruptTest {

    @TempDir
    Path dir;

    /** Instances by uuid; each call takes a little time, and boot can be interrupted like a blocking engine call. */
    static final class FakeCompute {
        final Map<String, Instance> live = new ConcurrentHashMap<>();
        final Duration opTime;

        FakeCompute(Duration opTime) {
            this.opTime = opTime;
        }

        ComputeService service() {
            return (ComputeService) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {ComputeService.class}, (proxy, m, args) -> switch (m.getName()) {
                        case "flavors" -> List.of(new Flavor("c1.nano", 64, 1, 128));
                        case "backends" -> List.of(new BackendStatus("fake", true, true, 100, "1.0", "0.1", live.size(),
                                "ok", ""));
                        case "list" -> new ArrayList<>(live.values());
                        case "boot" -> {
                            work();
                            String name = ((berth.driver.api.BootRequest) args[0]).name();
                            if (live.values().stream().anyMatch(i -> i.name().equals(name))) {
                                throw new berth.driver.api.ConflictException("name " + name + " in use");
                            }
                            Instance i = instance(UUID.randomUUID().toString(), name);
                            live.put(i.uuid(), i);
                            yield i;
                        }
                        case "delete" -> {
                            work();
                            Instance i = find((String) args[0]);
                            live.remove(i.uuid());
                            yield i;
                        }
                        case "exec" -> {
                            work();
                            find((String) args[0]);
                            yield new ExecResult(0, "", "");
                        }
                        case "pause", "unpause", "stop", "start", "reboot" -> {
                            work();
                            yield find((String) args[0]);
                        }
                        case "toString" -> "FakeCompute";
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> throw new UnsupportedOperationException(m.getName());
                    });
        }

        private Instance find(String ref) {
            Instance i = live.get(ref);
            if (i == null) {
                i = live.values().stream().filter(x -> x.name().equals(ref)).findFirst()
                        .orElseThrow(() -> new NotFoundException("no instance " + ref));
            }
            return i;
        }

        private void work() {
            try {
                Thread.sleep(opTime.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EngineException("interrupted");
            }
        }

        static Instance instance(String uuid, String name) {
            Instant now = Instant.now();
            return new Instance(uuid, name, "c1.nano", "img", "local", "fake", VmState.ACTIVE, null,
                    PowerState.RUNNING, List.of(), Map.of(), null, now, now);
        }
    }

    private static ComputeDriver fakeDriver() {
        long pid = ProcessHandle.current().pid();
        return (ComputeDriver) Proxy.newProxyInstance(BenchInterruptTest.class.getClassLoader(),
                new Class<?>[] {ComputeDriver.class}, (proxy, m, args) -> switch (m.getName()) {
                    case "name" -> "fake";
                    case "info" -> new DriverInstance((String) args[0], "x", PowerState.RUNNING, pid, -1, "img");
                    case "toString" -> "FakeDriver";
                    case "hashCode" -> 1;
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private BenchRunner runner(FakeCompute fake, ByteArrayOutputStream err) {
        ComputeService cs = fake.service();
        ComputeDriver driver = fakeDriver();
        return new BenchRunner(() -> cs, n -> n.equals("fake") ? driver : null, dir.resolve("state"), "t",
                "unix://" + dir.resolve("no-docker.sock"), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private BenchOptions options(int count, int parallel) {
        return new BenchOptions(List.of("fake"), count, parallel, "busybox", "c1.nano", List.of(), dir.resolve("out"),
                Duration.ofSeconds(5), false, Duration.ofSeconds(1));
    }

    @Test
    void interruptedRunRemovesEverythingItBooted() throws Exception {
        FakeCompute fake = new FakeCompute(Duration.ofMillis(30));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        BenchRunner r = runner(fake, err);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                r.run(options(200, 4));
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        t.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (fake.live.size() < 10 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(fake.live.size() >= 10, "the run booted instances");
        t.interrupt();
        t.join(Duration.ofSeconds(60).toMillis());
        assertTrue(!t.isAlive(), "the run ended after the interrupt");
        assertTrue(outcome.get() instanceof InterruptedException, "interrupt reported: " + outcome.get());
        assertEquals(Map.of(), fake.live, "everything booted was deleted");
        assertTrue(!Files.exists(dir.resolve("out").resolve(ReportWriter.HTML)), "no report of a partial run");
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("interrupted"), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void leftoversOfAnEarlierRunAreRemovedFirstAndOthersKept() throws Exception {
        FakeCompute fake = new FakeCompute(Duration.ZERO);
        Instance leftover = FakeCompute.instance(UUID.randomUUID().toString(), "bench-fake-7");
        Instance users = FakeCompute.instance(UUID.randomUUID().toString(), "web-1");
        fake.live.put(leftover.uuid(), leftover);
        fake.live.put(users.uuid(), users);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        BenchReport report = runner(fake, err).run(options(3, 2));
        assertEquals(Map.of(users.uuid(), users), fake.live, "only the user's instance is left");
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("removed instance bench-fake-7"));
        List<String> ops = report.latency().stream().map(Summary::operation).distinct().toList();
        assertEquals(List.of("boot", "to_running", "exec", "pause", "unpause", "stop", "start", "reboot", "delete"),
                ops);
        report.latency().forEach(s -> {
            assertEquals(3, s.n(), s.toString());
            assertEquals(0, s.failed(), s.toString());
        });
        assertEquals(3, report.memory().get(0).instances());
        assertTrue(Files.isRegularFile(dir.resolve("out").resolve(ReportWriter.HTML)));
    }
}
