package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ConflictException;
import berth.driver.api.Instance;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.VmState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Eight threads: operations on one instance never interleave; operations on different instances do overlap. */
class LockTest extends Fixture {

    final ExecutorService pool = Executors.newFixedThreadPool(8);

    @AfterEach
    void stopPool() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    }

    @Test
    void aSecondOperationOnABusyInstanceFailsAtOnce() throws Exception {
        start();
        Instance web = boot("web1");
        CountDownLatch inDriver = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        docker.hook = (op, uuid) -> {
            if (op.equals("pause")) {
                inDriver.countDown();
                await(release);
            }
        };
        Future<Instance> first = pool.submit(() -> manager.pause("web1"));
        assertTrue(inDriver.await(30, TimeUnit.SECONDS));
        // while the pause is inside the engine, every other change is refused with the task it is busy with
        List<Future<String>> others = new ArrayList<>();
        for (int t = 0; t < 7; t++) {
            int n = t;
            others.add(pool.submit(() -> {
                try {
                    switch (n % 4) {
                        case 0 -> manager.stop("web1", null);
                        case 1 -> manager.reboot("web1", RebootType.HARD);
                        case 2 -> manager.delete(web.uuid(), true);
                        default -> manager.snapshot("web1", "s", null);
                    }
                    return "succeeded";
                } catch (ConflictException e) {
                    return e.getMessage();
                }
            }));
        }
        for (Future<String> f : others) {
            assertEquals("instance web1 is busy (pausing)", f.get(30, TimeUnit.SECONDS));
        }
        release.countDown();
        assertEquals(VmState.PAUSED, first.get(30, TimeUnit.SECONDS).vmState());
        assertEquals(1, docker.maxActivePerInstance.get());
    }

    @Test
    void eightThreadsHammeringOneInstanceNeverInterleave() throws Exception {
        start();
        Instance web = boot("web1");
        docker.hook = (op, uuid) -> Thread.yield();
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger busy = new AtomicInteger();
        AtomicInteger wrongState = new AtomicInteger();
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Random rnd = new Random(t);
            tasks.add(() -> {
                for (int i = 0; i < 60; i++) {
                    try {
                        switch (rnd.nextInt(7)) {
                            case 0 -> manager.pause("web1");
                            case 1 -> manager.unpause("web1");
                            case 2 -> manager.stop("web1", Duration.ZERO);
                            case 3 -> manager.start("web1");
                            case 4 -> manager.reboot("web1", RebootType.HARD);
                            case 5 -> manager.suspend("web1");
                            default -> manager.resume("web1");
                        }
                        ok.incrementAndGet();
                    } catch (ConflictException e) {
                        if (e.getMessage().contains("is busy")) {
                            busy.incrementAndGet();
                        } else {
                            wrongState.incrementAndGet();
                        }
                    }
                }
                return null;
            });
        }
        for (Future<Void> f : pool.invokeAll(tasks, 120, TimeUnit.SECONDS)) {
            f.get();
        }
        assertEquals(1, docker.maxActivePerInstance.get(), "two operations were inside the engine at once");
        assertEquals(8 * 60, ok.get() + busy.get() + wrongState.get());
        assertTrue(ok.get() > 0);
        System.out.printf("one instance, 8 threads: %d done, %d busy, %d refused by state%n", ok.get(), busy.get(),
                wrongState.get());
        // the record agrees with the engine at the end
        Instance end = manager.show("web1");
        assertEquals(null, end.taskState());
        PowerState engine = docker.containers.get(web.uuid()).power;
        // the fake reports our stops as crashes (exit 137); the manager knows they were requested
        assertEquals(engine == PowerState.CRASHED ? PowerState.SHUTDOWN : engine, end.powerState());
    }

    @Test
    void differentInstancesRunInParallel() throws Exception {
        start();
        for (int i = 0; i < 8; i++) {
            boot("web" + i);
        }
        // each pause waits inside the engine until all eight are inside: only possible if none blocks another
        CyclicBarrier allInside = new CyclicBarrier(8);
        docker.hook = (op, uuid) -> {
            if (op.equals("pause")) {
                try {
                    allInside.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                    throw new IllegalStateException("pauses of different instances did not overlap", e);
                }
            }
        };
        List<Callable<Instance>> tasks = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String n = "web" + i;
            tasks.add(() -> manager.pause(n));
        }
        for (Future<Instance> f : pool.invokeAll(tasks, 120, TimeUnit.SECONDS)) {
            assertEquals(VmState.PAUSED, f.get().vmState());
        }
        assertEquals(1, docker.maxActivePerInstance.get());
    }

    @Test
    void concurrentBootsOfOneNameCreateOneInstance() throws Exception {
        start();
        List<Callable<String>> tasks = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            tasks.add(() -> {
                try {
                    return boot("same").uuid();
                } catch (ConflictException e) {
                    return "conflict";
                }
            });
        }
        int created = 0;
        for (Future<String> f : pool.invokeAll(tasks, 120, TimeUnit.SECONDS)) {
            if (!f.get().equals("conflict")) {
                created++;
            }
        }
        assertEquals(1, created);
        assertEquals(1, manager.list().size());
        assertEquals(1, docker.containers.size());
    }

    private static void await(CountDownLatch l) {
        try {
            if (!l.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("test latch timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
