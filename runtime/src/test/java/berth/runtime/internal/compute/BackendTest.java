package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BackendStatus;
import berth.driver.api.BackendUnavailableException;
import berth.driver.api.Instance;
import berth.driver.api.InvalidInputException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.VmState;
import berth.runtime.internal.registry.InstanceRecord.Cleanup;
import berth.runtime.internal.registry.InstanceRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class BackendTest extends Fixture {

    @Test
    void rankingDecidesUnlessAskedOrPreferred() {
        start();
        assertEquals("docker", boot("a").backend());
        assertEquals("lxc", manager.boot(request("b", "lxc", List.of(), List.of()), null).backend());
        assertEquals(Optional.of("docker"), manager.defaultBackend());
        assertFalse(manager.preferBackend("lxc"), "no ConfigurationAdmin here: not persisted");
        assertEquals(Optional.of("lxc"), manager.preferredBackend());
        assertEquals("lxc", boot("c").backend());
        assertEquals("docker", manager.boot(request("d", "docker", List.of(), List.of()), null).backend());
        assertThrows(InvalidInputException.class, () -> manager.preferBackend("nosuch"));
        assertThrows(InvalidInputException.class, () -> manager.preferBackend("Docker;x"));
        manager.preferBackend("");
        assertEquals("docker", boot("e").backend());
    }

    @Test
    void preferredBackendFromConfigurationFallsBackWhenAbsent() {
        start(new ComputeManager.Settings("lxc", "default", Duration.ofSeconds(1), Flavors.of(null)));
        assertEquals("lxc", boot("a").backend());
        manager.removeDriver(11);
        assertEquals("docker", boot("b").backend(), "new boots go to the next one present");
        BackendStatus lxcStatus = manager.backends().stream().filter(b -> b.name().equals("lxc")).findFirst()
                .orElseThrow();
        assertFalse(lxcStatus.present());
        assertTrue(lxcStatus.detail().contains("boots go to docker"), lxcStatus.detail());
    }

    @Test
    void anAbsentBackendRefusesEveryChangeAndChangesNothing() throws Exception {
        start();
        Instance web = boot("web1");
        Instance other = manager.boot(request("other", "lxc", List.of("default"), List.of()), null);
        manager.removeDriver(10);
        Path file = state.resolve("registry").resolve(web.uuid() + ".json");
        byte[] before = Files.readAllBytes(file);
        List<Consumer<String>> ops = List.of(manager::pause, manager::unpause, manager::suspend, manager::resume,
                manager::start, r -> manager.stop(r, null), r -> manager.reboot(r, RebootType.HARD),
                r -> manager.reboot(r, RebootType.SOFT), r -> manager.delete(r, false),
                r -> manager.snapshot(r, "s", null), r -> manager.console(r, 1),
                r -> manager.exec(r, List.of("true"), null, null), manager::diagnostics,
                r -> manager.attachInterface(r, "default", null),
                r -> manager.detachInterface(r, web.vifs().get(0).id()), r -> manager.migrate(r, "lxc", null));
        for (Consumer<String> op : ops) {
            BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> op.accept("web1"));
            assertEquals("backend docker is unavailable", e.getMessage());
        }
        assertArrayEquals(before, Files.readAllBytes(file), "the record was not touched");
        assertEquals(docker.containers.get(web.uuid()).pid, net.plugged.get(web.vifs().get(0).id()),
                "its network stays plugged");
        // it is still listed, with what was last known
        Instance listed = manager.list().stream().filter(i -> i.name().equals("web1")).findFirst().orElseThrow();
        assertEquals(VmState.ACTIVE, listed.vmState());
        assertEquals(PowerState.RUNNING, listed.powerState());
        // boots go to lxc; lxc instances are unaffected
        assertEquals("lxc", boot("web2").backend());
        assertEquals(VmState.PAUSED, manager.pause(other.uuid()).vmState());
        assertThrows(BackendUnavailableException.class, () -> manager.boot(request("x", "docker", List.of(),
                List.of()), null));

        // the driver comes back: usable again, nothing was restarted
        long pid = docker.containers.get(web.uuid()).pid;
        manager.addDriver(docker, "docker", 100, 20, "1.0.1");
        assertEquals(pid, docker.containers.get(web.uuid()).pid);
        assertEquals(VmState.PAUSED, manager.pause("web1").vmState());
        assertEquals("docker", boot("web3").backend());
    }

    @Test
    void noBackendAtAll() {
        start();
        manager.removeDriver(10);
        manager.removeDriver(11);
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> boot("a"));
        assertEquals("backend any is unavailable", e.getMessage());
        assertEquals(Optional.empty(), manager.defaultBackend());
        assertEquals(List.of(), manager.hypervisors());
    }

    @Test
    void forcedDeleteWithAbsentBackendCleansUpWhenItReturns() {
        start();
        Instance web = boot("web1");
        manager.removeDriver(10);
        assertThrows(BackendUnavailableException.class, () -> manager.delete("web1", false));
        Instance d = manager.delete("web1", true);
        assertEquals(VmState.DELETED, d.vmState());
        assertEquals(List.of(), manager.list());
        assertTrue(net.allocated.isEmpty(), "addresses freed at once");
        assertEquals(0, images.pins());
        assertTrue(docker.containers.containsKey(web.uuid()), "the engine still holds the container");
        var rec = new InstanceRegistry(state.resolve("registry")).get(web.uuid()).orElseThrow();
        assertEquals(Set.of(Cleanup.CONTAINER), rec.pendingCleanup());

        manager.addDriver(docker, "docker", 100, 21, "1.0.0");
        assertFalse(docker.containers.containsKey(web.uuid()), "leftover destroyed on return");
        rec = new InstanceRegistry(state.resolve("registry")).get(web.uuid()).orElseThrow();
        assertEquals(Set.of(), rec.pendingCleanup());
        ReconcileReport rep = manager.reconcileReport().stream().filter(r -> r.backend().equals("docker"))
                .findFirst().orElseThrow();
        assertEquals(List.of(web.uuid()), rep.cleaned());
    }

    @Test
    void backendsListsPresentAndAbsentOnes() {
        start();
        boot("a");
        boot("b");
        manager.boot(request("c", "lxc", List.of(), List.of()), null);
        List<BackendStatus> all = manager.backends();
        assertEquals(List.of("docker", "lxc"), all.stream().map(BackendStatus::name).toList());
        BackendStatus d = all.get(0);
        assertTrue(d.present());
        assertTrue(d.preferred());
        assertEquals(100, d.ranking());
        assertEquals("docker-engine 1.0", d.engineVersion());
        assertEquals("1.0.0", d.bundleVersion());
        assertEquals(2, d.instances());
        assertEquals("ok", d.health());
        assertFalse(all.get(1).preferred());
        assertEquals(1, all.get(1).instances());

        manager.removeDriver(10);
        all = manager.backends();
        d = all.get(0);
        assertFalse(d.present());
        assertFalse(d.preferred());
        assertEquals("absent", d.health());
        assertEquals(2, d.instances());
        assertEquals(100, d.ranking(), "last known ranking");
        assertTrue(all.get(1).preferred());
        assertEquals(List.of("lxc"), manager.hypervisors().stream().map(h -> h.backend()).toList());
    }

    @Test
    void aFailingEngineShowsInHealth() {
        start();
        docker.failures.put("list", new berth.driver.api.EngineException("connection refused"));
        manager.reconcile();
        BackendStatus d = manager.backends().get(0);
        assertEquals("error", d.health());
        assertTrue(d.detail().contains("connection refused"), d.detail());
    }

    @Test
    void twoBuildsOfOneBackendTheHigherRankedServes() {
        start();
        FakeDriver otherBuild = new FakeDriver("docker", berth.driver.api.ContainerFormat.DOCKER);
        manager.addDriver(otherBuild, "docker", 100, 5, "2.0.0");
        Instance a = boot("a");
        assertTrue(otherBuild.containers.containsKey(a.uuid()), "equal ranking: the older service id wins");
        assertNull(docker.containers.get(a.uuid()));
        manager.removeDriver(5);
        assertEquals("1.0.0", manager.backends().get(0).bundleVersion());
    }
}
