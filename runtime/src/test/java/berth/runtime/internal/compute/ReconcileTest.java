package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.api.Flavor;
import berth.driver.api.ImageInfo;
import berth.driver.api.Instance;
import berth.driver.api.PowerState;
import berth.driver.api.TaskState;
import berth.driver.api.Vif;
import berth.driver.api.VmState;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SpawnSpec;
import berth.runtime.internal.registry.InstanceRecord;
import berth.runtime.internal.registry.InstanceRegistry;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ReconcileTest extends Fixture {

    private FakeDriver.Container engineHas(FakeDriver d, String uuid) {
        ImageInfo info = images.find("img-docker").orElseThrow();
        SpawnSpec spec = new SpawnSpec(uuid, "x", new Flavor("c1.small", 256, 1, 1024),
                new LocalImage(info, Path.of("/x"), "0".repeat(64)), Map.of(), List.of());
        FakeDriver.Container c = new FakeDriver.Container(spec, d.pids.incrementAndGet());
        d.containers.put(uuid, c);
        return c;
    }

    @Test
    void orphansAreReportedNotTouched() {
        String stray = UUID.randomUUID().toString();
        engineHas(docker, stray);
        start();
        boot("web1");
        ReconcileReport rep = manager.reconcileReport().get(0);
        assertEquals("docker", rep.backend());
        assertEquals(List.of(stray), rep.orphans().stream().map(ReconcileReport.Orphan::uuid).toList());
        assertEquals("docker-" + stray, rep.orphans().get(0).engineId());
        assertTrue(docker.containers.containsKey(stray), "an orphan is reported, never destroyed");
        assertEquals("1 orphan(s), 0 missing, 0 cleaned up", rep.summary());
        assertTrue(manager.backends().get(0).detail().contains("1 orphan(s)"));
    }

    @Test
    void anOrphanCanBeRemovedOnRequestButNoInstance() {
        String stray = UUID.randomUUID().toString();
        engineHas(docker, stray);
        start();
        Instance web = boot("web1");
        assertThrows(berth.driver.api.ConflictException.class, () -> manager.destroyOrphan(web.uuid()));
        assertThrows(berth.driver.api.InvalidInputException.class, () -> manager.destroyOrphan("x;y"));
        assertThrows(berth.driver.api.NotFoundException.class,
                () -> manager.destroyOrphan(UUID.randomUUID().toString()));
        assertEquals("docker", manager.destroyOrphan(stray.toUpperCase()));
        assertFalse(docker.containers.containsKey(stray));
        assertTrue(docker.containers.containsKey(web.uuid()));
        assertTrue(manager.reconcileReport().get(0).orphans().isEmpty());
    }

    @Test
    void instancesTheEngineLostAreMarkedAndComeBack() {
        start();
        Instance web = boot("web1");
        FakeDriver.Container c = docker.containers.remove(web.uuid());
        List<ReconcileReport> reps = manager.reconcile();
        assertEquals(List.of(web.uuid()), reps.get(0).missing());
        Instance i = manager.show("web1");
        assertEquals(VmState.ERROR, i.vmState());
        assertEquals("missing in engine", i.fault());
        assertEquals(PowerState.NOSTATE, i.powerState());
        // an engine that finds it again (restored data root): usable again
        docker.containers.put(web.uuid(), c);
        manager.reconcile();
        i = manager.show("web1");
        assertEquals(VmState.ACTIVE, i.vmState());
        assertNull(i.fault());
    }

    @Test
    void powerStatesAreRefreshedAndARestartedContainerIsRePlugged() {
        start();
        Instance web = boot("web1");
        FakeDriver.Container c = docker.containers.get(web.uuid());
        c.pid = 77777; // the engine restarted it: a new init, a new namespace
        manager.reconcile();
        assertEquals(77777L, net.plugged.get(web.vifs().get(0).id()));
        c.power = PowerState.PAUSED;
        manager.reconcile();
        var rec = new InstanceRegistry(state.resolve("registry")).get(web.uuid()).orElseThrow();
        assertEquals(PowerState.PAUSED, rec.powerState());
        assertEquals(77777L, rec.initPid());
    }

    @Test
    void aListingOlderThanTheLastOperationDoesNotUndoIt() {
        start();
        Instance web = boot("web1");
        manager.stop("web1", null);
        List<berth.driver.api.spi.DriverInstance> whileStopped = docker.list();
        manager.start("web1");
        docker.staleList = whileStopped;
        manager.reconcile();
        assertEquals(VmState.ACTIVE, manager.show("web1").vmState());
        // and a listing that misses an instance is checked before it is called missing
        docker.staleList = List.of();
        manager.reconcile();
        assertEquals(VmState.ACTIVE, manager.show("web1").vmState());
        assertNull(manager.show("web1").fault());
        assertTrue(docker.containers.containsKey(web.uuid()));
    }

    private InstanceRecord interrupted(VmState vm, TaskState task, boolean withVif, boolean withContainer) {
        String uuid = UUID.randomUUID().toString();
        List<Vif> vifs = List.of();
        if (withVif) {
            Vif v = net.allocate("default", uuid, "eth0");
            net.plug(v, 4242);
            vifs = List.of(v);
        }
        if (withContainer) {
            engineHas(docker, uuid);
        }
        images.holders.computeIfAbsent("img-docker", k -> java.util.concurrent.ConcurrentHashMap.newKeySet())
                .add(uuid);
        InstanceRegistry reg = new InstanceRegistry(state.resolve("registry"));
        return reg.put(InstanceRecord.builder().uuid(uuid).name("i-" + task.label()).flavor("c1.small")
                .imageId("img-docker").imageSource("local").backend("docker").vmState(vm).taskState(task)
                .powerState(PowerState.RUNNING).vifs(vifs).initPid(4242).build());
    }

    @Test
    void anInstanceFoundMidBuildIsRolledBackAndError() {
        InstanceRecord r = interrupted(VmState.BUILDING, TaskState.SPAWNING, true, true);
        start();
        Instance i = manager.show(r.uuid());
        assertEquals(VmState.ERROR, i.vmState());
        assertNull(i.taskState());
        assertEquals("interrupted during spawning", i.fault());
        assertFalse(docker.containers.containsKey(r.uuid()), "half-built container destroyed");
        assertTrue(net.allocated.isEmpty(), "its address released");
        assertTrue(net.plugged.isEmpty());
        assertEquals(0, images.pins(), "its image released");
        assertEquals(List.of(), i.vifs());
        var rec = new InstanceRegistry(state.resolve("registry")).get(r.uuid()).orElseThrow();
        assertEquals(Set.of(), rec.pendingCleanup());
    }

    @Test
    void aBuildInterruptedWhileTheBackendIsAbsentIsCleanedWhenItComes() {
        InstanceRecord r = interrupted(VmState.BUILDING, TaskState.SPAWNING, true, true);
        manager = new ComputeManager(state, ComputeManager.Settings.defaults(), Runnable::run);
        assertEquals(VmState.ERROR, manager.show(r.uuid()).vmState());
        assertTrue(docker.containers.containsKey(r.uuid()));
        manager.setNetwork(net);
        assertTrue(net.allocated.isEmpty(), "released as soon as the network provider is there");
        manager.addImageSource(images, "local", 0, 1);
        assertEquals(0, images.pins());
        manager.addDriver(docker, "docker", 100, 10, null);
        assertFalse(docker.containers.containsKey(r.uuid()));
    }

    @Test
    void anInterruptedDeleteIsFinished() {
        InstanceRecord r = interrupted(VmState.ACTIVE, TaskState.DELETING, true, true);
        start();
        assertTrue(manager.list().isEmpty());
        assertFalse(docker.containers.containsKey(r.uuid()));
        assertTrue(net.allocated.isEmpty());
        assertEquals(0, images.pins());
    }

    @Test
    void anInstanceInterruptedInAnotherTaskKeepsItsContainer() {
        InstanceRecord r = interrupted(VmState.ACTIVE, TaskState.REBOOTING, true, true);
        start();
        Instance i = manager.show(r.uuid());
        assertEquals(VmState.ERROR, i.vmState());
        assertEquals("interrupted during rebooting", i.fault());
        assertTrue(docker.containers.containsKey(r.uuid()), "the workload is not thrown away");
        assertEquals(1, net.allocated.size(), "nor its address");
        // a hard reboot repairs it, re-plugging its network
        Instance fixed = manager.reboot(r.uuid(), berth.driver.api.RebootType.HARD);
        assertEquals(VmState.ACTIVE, fixed.vmState());
        assertEquals(docker.containers.get(r.uuid()).pid, net.plugged.get(fixed.vifs().get(0).id()));
    }

    @Test
    void aDeletedInstanceWhoseContainerSurvivedIsDestroyed() {
        start();
        Instance web = boot("web1");
        manager.delete("web1", false);
        engineHas(docker, web.uuid());
        ReconcileReport rep = manager.reconcile().get(0);
        assertEquals(List.of(web.uuid()), rep.cleaned());
        assertTrue(rep.orphans().isEmpty(), "not an orphan: the registry knows it was deleted");
        assertFalse(docker.containers.containsKey(web.uuid()));
    }

    @Test
    void registryProblemsAreExposed() throws Exception {
        java.nio.file.Files.createDirectories(state.resolve("registry"));
        java.nio.file.Files.writeString(state.resolve("registry").resolve(UUID.randomUUID() + ".json"), "{");
        start();
        assertEquals(1, manager.registryProblems().size());
        assertEquals(VmState.ACTIVE, boot("web1").vmState());
        assertEquals(ContainerFormat.DOCKER, images.find("img-docker").orElseThrow().containerFormat());
    }
}
