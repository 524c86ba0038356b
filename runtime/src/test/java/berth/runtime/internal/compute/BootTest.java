package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BerthException;
import berth.driver.api.BootRequest;
import berth.driver.api.ConflictException;
import berth.driver.api.EngineException;
import berth.driver.api.Instance;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.VmState;
import berth.runtime.internal.registry.InstanceRecord.Cleanup;
import berth.runtime.internal.registry.InstanceRegistry;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BootTest extends Fixture {

    @Test
    void bootComposesImageNetworkAndDriver() {
        start();
        Instance i = manager.boot(new BootRequest("web1", "busybox", "c1.small", null, List.of("default", "second"),
                List.of(port("port-1", 1)), Map.of("ROLE", "web"), List.of()), null);
        assertEquals(VmState.ACTIVE, i.vmState());
        assertNull(i.taskState());
        assertEquals(PowerState.RUNNING, i.powerState());
        assertEquals("docker", i.backend());
        assertEquals("img-docker", i.imageId(), "by name, docker prefers the docker-format image");
        assertEquals("local", i.imageSource());
        assertEquals(List.of("eth0", "eth1", "eth2"), i.vifs().stream().map(v -> v.device()).toList());
        FakeDriver.Container c = docker.containers.get(i.uuid());
        assertEquals(Map.of("ROLE", "web"), c.spec.env());
        assertEquals(List.of("httpd", "-f", "-p", "8080"), c.spec.command(), "os_command_line split like a shell");
        assertEquals("web1", c.spec.hostname());
        assertEquals(256, c.spec.flavor().memoryMb());
        for (var v : i.vifs()) {
            assertEquals(c.pid, net.plugged.get(v.id()), "plugged into the init pid's namespace");
        }
        assertEquals(Set.of(i.uuid()), images.holders.get("img-docker"));
        // durable: a new manager over the same state sees the same record
        assertEquals(i, new ComputeManager(state, ComputeManager.Settings.defaults(), Runnable::run).show("web1"));
    }

    @Test
    void bootByNameOnLxcPrefersRootfsAndByIdTakesThatImage() {
        start();
        assertEquals("img-bare", manager.boot(request("a", "lxc", List.of(), List.of()), null).imageId());
        assertEquals("img-bare", manager.boot(new BootRequest("b", "img-bare", "c1.nano", "docker", null, null, null,
                null), null).imageId());
        BootRequest withCommand = new BootRequest("c", "busybox", "c1.nano", null, null, null, null,
                List.of("sleep", "100"));
        Instance c = manager.boot(withCommand, null);
        assertEquals(List.of("sleep", "100"), docker.containers.get(c.uuid()).spec.command());
    }

    @Test
    void twoImagesOfOneNameAndFormatInOneSourceAreAConflict() {
        start();
        images.add("img-docker-2", "busybox", berth.driver.api.ContainerFormat.DOCKER, Map.of());
        assertThrows(ConflictException.class, () -> boot("x"));
        assertEquals(List.of(), manager.list(), "refused before any record");
    }

    @Test
    void unknownImageIsNotFoundAndLeavesNothing() {
        start();
        assertThrows(NotFoundException.class, () -> manager.boot(new BootRequest("x", "nosuch", "c1.small", null,
                List.of("default"), null, null, null), null));
        assertEquals(List.of(), manager.list());
        assertTrue(net.allocated.isEmpty());
    }

    /** Fails the boot at one step and checks everything before it was undone. */
    @ParameterizedTest
    @ValueSource(strings = {"acquire", "allocate", "adopt", "spawn", "plug-first", "plug-last", "no-init-pid"})
    void failureAtEachStepRollsBackEverything(String step) {
        start();
        RuntimeException injected = switch (step) {
            case "acquire" -> images.failAcquire = new EngineException("checksum mismatch");
            case "allocate" -> {
                net.failAllocateAt = 2;
                yield null;
            }
            case "adopt" -> {
                net.failAdopt = true;
                yield null;
            }
            case "spawn" -> {
                EngineException e = new EngineException("OOM at start");
                docker.failures.put("spawn", e);
                yield e;
            }
            case "plug-first" -> {
                net.failPlugAt = 1;
                yield null;
            }
            case "plug-last" -> {
                net.failPlugAt = 3;
                yield null;
            }
            case "no-init-pid" -> {
                docker.hook = (op, uuid) -> { };
                yield null;
            }
            default -> throw new IllegalStateException(step);
        };
        FakeDriver spawner = docker;
        if (step.equals("no-init-pid")) {
            // a driver that reports no init for a running container: the network cannot be plugged
            FakeDriver noPid = new FakeDriver("nopid", berth.driver.api.ContainerFormat.DOCKER) {
                @Override
                public berth.driver.api.spi.DriverInstance spawn(berth.driver.api.spi.SpawnSpec spec) {
                    super.spawn(spec);
                    return new berth.driver.api.spi.DriverInstance(spec.uuid(), "x", PowerState.RUNNING, 0, -1,
                            null);
                }
            };
            manager.addDriver(noPid, "nopid", 500, 99, null);
            spawner = noPid;
        }
        BootRequest req = new BootRequest("web1", "busybox", "c1.small", null, List.of("default", "second"),
                List.of(port("port-1", 1)), Map.of(), List.of());
        BerthException e = assertThrows(BerthException.class, () -> manager.boot(req, null));
        if (injected != null) {
            assertEquals(injected, e);
        }
        Instance i = manager.show("web1");
        assertEquals(VmState.ERROR, i.vmState());
        assertNull(i.taskState());
        assertEquals(e.getMessage(), i.fault());
        assertEquals(List.of(), i.vifs());
        assertTrue(net.allocated.isEmpty(), step + ": addresses released " + net.allocated);
        assertTrue(net.plugged.isEmpty(), step + ": veths removed " + net.plugged);
        assertTrue(spawner.containers.isEmpty(), step + ": no container left");
        assertEquals(0, images.pins(), step + ": image released");
        var rec = new InstanceRegistry(state.resolve("registry")).get(i.uuid()).orElseThrow();
        assertEquals(Set.of(), rec.pendingCleanup());
        if (step.equals("spawn") || step.startsWith("plug")) {
            assertTrue(docker.calls.contains("destroy " + i.uuid()));
        }
        assertEquals(VmState.DELETED, manager.delete("web1", false).vmState());
        images.failAcquire = null;
        docker.failures.clear();
        net.failAllocateAt = 0;
        net.failAdopt = false;
        net.failPlugAt = 0;
        manager.removeDriver(99);
        assertEquals(VmState.ACTIVE, boot("web1").vmState());
    }

    @Test
    void failedBootKeepsItsNameUntilDeleted() {
        start();
        docker.failures.put("spawn", new EngineException("OOM at start"));
        assertThrows(EngineException.class, () -> boot("web1"));
        docker.failures.clear();
        // as in Nova, the ERROR instance exists until it is deleted
        assertThrows(ConflictException.class, () -> boot("WEB1"));
        manager.delete("web1", false);
        assertEquals(VmState.ACTIVE, boot("web1").vmState());
    }

    @Test
    void undoThatFailsIsRememberedAndRetriedLater() {
        start();
        docker.failures.put("spawn", new EngineException("spawn failed"));
        docker.failures.put("destroy", new EngineException("engine went away"));
        net.failRelease = true;
        assertThrows(EngineException.class, () -> boot("web1"));
        Instance i = manager.show("web1");
        var rec = new InstanceRegistry(state.resolve("registry")).get(i.uuid()).orElseThrow();
        assertEquals(Set.of(Cleanup.CONTAINER, Cleanup.VIFS), rec.pendingCleanup());
        assertEquals(1, rec.vifs().size(), "the VIF that could not be released stays recorded");

        docker.failures.clear();
        net.failRelease = false;
        manager.reconcile();
        rec = new InstanceRegistry(state.resolve("registry")).get(i.uuid()).orElseThrow();
        assertEquals(Set.of(), rec.pendingCleanup());
        assertEquals(List.of(), rec.vifs());
        assertTrue(net.allocated.isEmpty());
        assertTrue(docker.calls.stream().filter(c -> c.equals("destroy " + i.uuid())).count() >= 2);
    }

    @Test
    void nonBerthFailureBecomesEngineException() {
        start();
        docker.failures.put("spawn", new IllegalStateException("bug\nwith two lines"));
        EngineException e = assertThrows(EngineException.class, () -> boot("web1"));
        assertTrue(e.getMessage().startsWith("boot of instance web1 failed: bug with two lines"), e.getMessage());
        assertInstanceOf(IllegalStateException.class, e.getCause());
    }

    @Test
    void networksWithoutProviderAreRefusedUpFront() {
        start();
        manager.removeNetwork(net);
        assertThrows(EngineException.class, () -> boot("web1"));
        assertEquals(List.of(), manager.list());
        assertEquals(VmState.ACTIVE, manager.boot(request("web2", null, List.of(), List.of()), null).vmState());
    }
}
