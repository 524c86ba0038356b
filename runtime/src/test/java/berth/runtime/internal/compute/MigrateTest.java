package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BackendUnavailableException;
import berth.driver.api.EngineException;
import berth.driver.api.Instance;
import berth.driver.api.InvalidInputException;
import berth.driver.api.PowerState;
import berth.driver.api.VmState;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MigrateTest extends Fixture {

    Instance web;

    @BeforeEach
    void boot() {
        start();
        web = boot("web1");
    }

    @Test
    void aRunningInstanceMovesKeepingIdentityAndAddresses() {
        Instance m = manager.migrate("web1", "lxc", null);
        assertEquals(web.uuid(), m.uuid());
        assertEquals("web1", m.name());
        assertEquals("c1.small", m.flavor());
        assertEquals("lxc", m.backend());
        assertEquals(VmState.ACTIVE, m.vmState());
        assertEquals(web.vifs(), m.vifs(), "same MAC and address");
        FakeDriver.Container c = lxc.containers.get(web.uuid());
        assertNotNull(c);
        assertEquals(c.pid, net.plugged.get(web.vifs().get(0).id()), "plugged into the new namespace");
        assertFalse(docker.containers.containsKey(web.uuid()), "the old container is removed after");
        assertEquals("migration", images.uploadedProperties.get("image_type"));
        assertEquals(m.imageId(), c.spec.image().info().id());
        assertEquals(0, images.holders.getOrDefault("img-docker", java.util.Set.of()).size(), "old pin released");
        // and it is managed by its new backend from now on
        assertEquals(VmState.PAUSED, manager.pause("web1").vmState());
        manager.removeDriver(10);
        assertEquals(VmState.ACTIVE, manager.unpause("web1").vmState(), "docker's absence no longer matters");
    }

    @Test
    void aStoppedInstanceArrivesStopped() {
        manager.stop("web1", null);
        Instance m = manager.migrate("web1", "lxc", null);
        assertEquals(VmState.STOPPED, m.vmState());
        assertEquals(PowerState.SHUTDOWN, m.powerState());
        assertTrue(net.plugged.isEmpty());
        Instance s = manager.start("web1");
        assertEquals(lxc.containers.get(web.uuid()).pid, net.plugged.get(web.vifs().get(0).id()));
        assertEquals(VmState.ACTIVE, s.vmState());
    }

    @Test
    void aFailedMigrationLeavesTheInstanceRunningWhereItWas() {
        lxc.failures.put("spawn", new EngineException("cannot flatten image"));
        int imagesBefore = images.images.size();
        EngineException e = assertThrows(EngineException.class, () -> manager.migrate("web1", "lxc", null));
        assertEquals("cannot flatten image", e.getMessage());
        Instance i = manager.show("web1");
        assertEquals("docker", i.backend());
        assertEquals(VmState.ACTIVE, i.vmState());
        assertEquals(PowerState.RUNNING, i.powerState());
        assertEquals("cannot flatten image", i.fault());
        FakeDriver.Container c = docker.containers.get(web.uuid());
        assertEquals(PowerState.RUNNING, c.power);
        assertEquals(c.pid, net.plugged.get(web.vifs().get(0).id()), "re-plugged on the source");
        assertFalse(lxc.containers.containsKey(web.uuid()));
        assertEquals(imagesBefore, images.images.size(), "the migration image is deleted");
        assertEquals(1, images.pins(), "only the original pin remains");
    }

    @Test
    void aFailedPlugOnTheTargetIsUndoneToo() {
        net.failPlugAt = net.plugCalls.get() + 1;
        assertThrows(EngineException.class, () -> manager.migrate("web1", "lxc", null));
        assertEquals("docker", manager.show("web1").backend());
        assertEquals(VmState.ACTIVE, manager.show("web1").vmState());
        assertFalse(lxc.containers.containsKey(web.uuid()));
        assertEquals(docker.containers.get(web.uuid()).pid, net.plugged.get(web.vifs().get(0).id()));
    }

    @Test
    void anOldContainerThatCouldNotBeRemovedIsReconciledAway() {
        docker.failures.put("destroy", new EngineException("engine hiccup"));
        assertEquals("lxc", manager.migrate("web1", "lxc", null).backend());
        assertTrue(docker.containers.containsKey(web.uuid()));
        docker.failures.clear();
        ReconcileReport rep = manager.reconcile().stream().filter(r -> r.backend().equals("docker")).findFirst()
                .orElseThrow();
        assertEquals(List.of(web.uuid()), rep.cleaned());
        assertFalse(docker.containers.containsKey(web.uuid()));
        assertTrue(lxc.containers.containsKey(web.uuid()));
    }

    @Test
    void migrationImagesDoNotPileUp() {
        int before = images.images.size();
        manager.migrate("web1", "lxc", null);
        manager.migrate("web1", "docker", null);
        assertEquals(before + 1, images.images.size(), "only the image the instance runs from is kept");
        assertEquals(VmState.ACTIVE, manager.show("web1").vmState());
        assertTrue(docker.containers.containsKey(web.uuid()));
        assertFalse(lxc.containers.containsKey(web.uuid()));
        var snap = manager.snapshot("web1", "keep-me", null);
        String migrationImage = manager.show("web1").imageId();
        manager.delete("web1", false);
        assertTrue(docker.calls.contains("releaseImage " + migrationImage),
                "the engine copy of a deleted migration image is released: " + docker.calls);
        assertFalse(docker.calls.contains("releaseImage img-docker"), "images that still exist stay cached");
        assertEquals(before + 1, images.images.size(), "the migration image goes with the instance");
        assertTrue(images.images.stream().anyMatch(i -> i.id().equals(snap.id())), "snapshots stay");
        assertTrue(images.images.stream().anyMatch(i -> i.id().equals("img-docker")), "the original stays");
    }

    @Test
    void badTargets() {
        assertThrows(InvalidInputException.class, () -> manager.migrate("web1", "docker", null));
        assertThrows(InvalidInputException.class, () -> manager.migrate("web1", "nosuch", null));
        assertThrows(InvalidInputException.class, () -> manager.migrate("web1", "a b", null));
        manager.removeDriver(11);
        assertThrows(BackendUnavailableException.class, () -> manager.migrate("web1", "lxc", null));
        assertEquals("docker", manager.show("web1").backend());
    }
}
