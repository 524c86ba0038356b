package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ConflictException;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.Instance;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import berth.driver.api.PowerState;
import berth.driver.api.RebootType;
import berth.driver.api.Vif;
import berth.driver.api.VmState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StateMachineTest extends Fixture {

    Instance web;

    @BeforeEach
    void boot() {
        start();
        web = boot("web1");
    }

    private long pid() {
        return docker.containers.get(web.uuid()).pid;
    }

    private void assertPluggedInto(Instance i, long pid) {
        for (Vif v : i.vifs()) {
            assertEquals(pid, net.plugged.get(v.id()), "VIF " + v.id() + " in the current init's namespace");
        }
    }

    @Test
    void stopIsShutdownEvenWhenTheEngineCallsTheExitACrash() {
        Instance s = manager.stop("web1", Duration.ofSeconds(1));
        assertEquals(VmState.STOPPED, s.vmState());
        assertEquals(PowerState.SHUTDOWN, s.powerState(), "the stop was ours; exit 137 says nothing");
        assertNull(s.taskState());
        assertTrue(net.plugged.isEmpty(), "host ends removed");
        assertEquals(1, s.vifs().size(), "the VIF stays allocated");
        assertEquals(PowerState.SHUTDOWN, manager.show("web1").powerState());
        assertEquals(PowerState.SHUTDOWN, manager.list().get(0).powerState());
        manager.reconcile();
        assertEquals(PowerState.SHUTDOWN, manager.show("web1").powerState());
    }

    @Test
    void anExitNobodyAskedForIsCrashed() {
        FakeDriver.Container c = docker.containers.get(web.uuid());
        c.power = PowerState.CRASHED;
        c.exit = 3;
        assertEquals(PowerState.CRASHED, manager.list().get(0).powerState());
        manager.reconcile();
        Instance i = manager.show("web1");
        assertEquals(PowerState.CRASHED, i.powerState());
        assertEquals(VmState.STOPPED, i.vmState(), "as Nova's power-state sync");
        Instance started = manager.start("web1");
        assertEquals(VmState.ACTIVE, started.vmState());
    }

    @Test
    void startRePlugsIntoTheNewNamespace() {
        long before = pid();
        manager.stop("web1", null);
        Instance s = manager.start("web1");
        assertEquals(VmState.ACTIVE, s.vmState());
        assertEquals(PowerState.RUNNING, s.powerState());
        assertNotEquals(before, pid());
        assertPluggedInto(s, pid());
        // a crash after a start is a crash again: the stop request was consumed
        docker.containers.get(web.uuid()).power = PowerState.CRASHED;
        assertEquals(PowerState.CRASHED, manager.show("web1").powerState());
    }

    @Test
    void rebootsRePlug() {
        for (RebootType t : RebootType.values()) {
            long before = pid();
            Instance r = manager.reboot("web1", t);
            assertEquals(VmState.ACTIVE, r.vmState());
            assertNotEquals(before, pid());
            assertPluggedInto(r, pid());
        }
        assertTrue(docker.calls.contains("reboot-soft " + web.uuid()));
        assertTrue(docker.calls.contains("reboot-hard " + web.uuid()));
    }

    @Test
    void hardRebootOfAStoppedInstancePowersItOn() {
        manager.stop("web1", null);
        assertThrows(ConflictException.class, () -> manager.reboot("web1", RebootType.SOFT));
        Instance r = manager.reboot("web1", RebootType.HARD);
        assertEquals(VmState.ACTIVE, r.vmState());
        assertTrue(docker.calls.contains("powerOn " + web.uuid()));
        assertPluggedInto(r, pid());
    }

    @Test
    void pauseUnpauseSuspendResume() {
        assertEquals(VmState.PAUSED, manager.pause("web1").vmState());
        assertEquals(PowerState.PAUSED, manager.show("web1").powerState());
        assertThrows(ConflictException.class, () -> manager.pause("web1"));
        assertThrows(ConflictException.class, () -> manager.suspend("web1"));
        assertEquals(VmState.ACTIVE, manager.unpause("web1").vmState());
        assertEquals(VmState.SUSPENDED, manager.suspend("web1").vmState());
        assertEquals(PowerState.SUSPENDED, manager.show("web1").powerState());
        int plugs = net.plugCalls.get();
        assertEquals(VmState.ACTIVE, manager.resume("web1").vmState());
        assertEquals(plugs, net.plugCalls.get(), "a freezer resume keeps the namespace");
        manager.suspend("web1");
        docker.resumeNewPid = true;
        Instance r = manager.resume("web1");
        assertPluggedInto(r, pid());
        assertEquals(plugs + 1, net.plugCalls.get(), "a checkpoint restore is a new namespace");
    }

    @Test
    void transitionsThatDoNotFitAreConflicts() {
        assertThrows(ConflictException.class, () -> manager.start("web1"));
        assertThrows(ConflictException.class, () -> manager.unpause("web1"));
        assertThrows(ConflictException.class, () -> manager.resume("web1"));
        manager.stop("web1", null);
        ConflictException e = assertThrows(ConflictException.class, () -> manager.pause("web1"));
        assertEquals("cannot pause instance web1 while it is stopped", e.getMessage());
        assertThrows(ConflictException.class, () -> manager.stop("web1", null));
        assertThrows(ConflictException.class, () -> manager.suspend("web1"));
        assertThrows(ConflictException.class, () -> manager.exec("web1", List.of("true"), null, null));
        assertEquals(VmState.STOPPED, manager.show("web1").vmState(), "refusals change nothing");
        assertTrue(manager.console("web1", 5).startsWith("console of"), "a stopped instance has a console log");
    }

    @Test
    void aFailedOperationKeepsTheStateAndRecordsTheFault() {
        docker.failures.put("pause", new EngineException("freezer busy"));
        EngineException e = assertThrows(EngineException.class, () -> manager.pause("web1"));
        assertEquals("freezer busy", e.getMessage());
        Instance i = manager.show("web1");
        assertEquals(VmState.ACTIVE, i.vmState());
        assertNull(i.taskState());
        assertEquals("freezer busy", i.fault());
        docker.failures.clear();
        assertNull(manager.pause("web1").fault(), "a success clears the fault");
    }

    @Test
    void aRebootThatFailsIsError() {
        docker.failures.put("reboot-soft", new EngineException("engine error"));
        assertThrows(EngineException.class, () -> manager.reboot("web1", RebootType.SOFT));
        assertEquals(VmState.ERROR, manager.show("web1").vmState());
        docker.failures.clear();
        Instance r = manager.reboot("web1", RebootType.HARD);
        assertEquals(VmState.ACTIVE, r.vmState());
        assertNull(r.fault());
    }

    @Test
    void aStartWhoseNetworkCannotBePluggedIsError() {
        manager.stop("web1", null);
        net.failPlugAt = net.plugCalls.get() + 1;
        assertThrows(EngineException.class, () -> manager.start("web1"));
        Instance i = manager.show("web1");
        assertEquals(VmState.ERROR, i.vmState());
        assertTrue(net.plugged.isEmpty());
    }

    @Test
    void startWithVifsNeedsTheNetworkProvider() {
        manager.stop("web1", null);
        manager.removeNetwork(net);
        assertThrows(EngineException.class, () -> manager.start("web1"));
        assertEquals(VmState.STOPPED, manager.show("web1").vmState());
        assertTrue(docker.calls.stream().noneMatch(c -> c.startsWith("powerOn")), "refused before the engine");
    }

    @Test
    void snapshotStreamsIntoTheImageSource() {
        ImageInfo img = manager.snapshot("web1", "web1-snap", null);
        assertEquals("web1-snap", img.name());
        assertEquals(100_000, images.uploadedBytes);
        assertTrue(docker.snapshotClosed.get(), "the driver's stream was closed");
        Map<String, String> p = images.uploadedProperties;
        assertEquals("snapshot", p.get("image_location"));
        assertEquals(web.uuid(), p.get("instance_uuid"));
        assertEquals("docker", p.get("backend"));
        assertEquals("img-docker", p.get("base_image_ref"));
        assertEquals(VmState.ACTIVE, manager.show("web1").vmState());
        assertThrows(InvalidInputException.class, () -> manager.snapshot("web1", "", null));
        assertThrows(InvalidInputException.class, () -> manager.snapshot("web1", "a\nb", null));
        // a snapshot boots like any image
        Instance b = manager.boot(new berth.driver.api.BootRequest("from-snap", img.id(), "c1.nano", null, null, null,
                null, null), null);
        assertEquals(img.id(), b.imageId());
    }

    @Test
    void consoleExecDiagnostics() {
        assertTrue(manager.console("web1", 10).contains(web.uuid()));
        assertThrows(InvalidInputException.class, () -> manager.console("web1", 0));
        assertEquals("echo a b", manager.exec("web1", List.of("echo", "a b"), Map.of(), Duration.ofSeconds(5))
                .stdout());
        assertThrows(InvalidInputException.class, () -> manager.exec("web1", List.of(), null, null));
        assertThrows(InvalidInputException.class, () -> manager.exec("web1", List.of("x"), null, Duration.ZERO));
        assertEquals(3, manager.diagnostics("web1").memoryLimitBytes());
    }

    @Test
    void deleteReleasesEverythingAndKeepsAHiddenRecord() {
        Instance d = manager.delete("web1", false);
        assertEquals(VmState.DELETED, d.vmState());
        assertEquals(List.of(), manager.list());
        assertThrows(NotFoundException.class, () -> manager.show("web1"));
        assertThrows(NotFoundException.class, () -> manager.show(web.uuid()));
        assertThrows(NotFoundException.class, () -> manager.delete("web1", false));
        assertTrue(docker.containers.isEmpty());
        assertTrue(net.allocated.isEmpty());
        assertTrue(net.plugged.isEmpty());
        assertEquals(0, images.pins());
        var rec = new berth.runtime.internal.registry.InstanceRegistry(state.resolve("registry")).get(web.uuid());
        assertEquals(VmState.DELETED, rec.orElseThrow().vmState());
        assertEquals(VmState.ACTIVE, boot("web1").vmState(), "the name is free again");
    }

    @Test
    void attachAndDetachInterfaces() {
        Instance a = manager.attachInterface("web1", "second", null);
        assertEquals(List.of("eth0", "eth1"), a.vifs().stream().map(Vif::device).toList());
        assertPluggedInto(a, pid());
        Instance b = manager.attachInterface("web1", null, port("port-7", 7));
        assertEquals("eth2", b.vifs().get(2).device());
        assertEquals(pid(), net.plugged.get("port-7"));
        assertThrows(InvalidInputException.class, () -> manager.attachInterface("web1", null, null));
        assertThrows(InvalidInputException.class, () -> manager.attachInterface("web1", "a", port("p", 1)));
        Instance c = manager.detachInterface("web1", b.vifs().get(1).id());
        assertEquals(List.of("eth0", "eth2"), c.vifs().stream().map(Vif::device).toList());
        assertEquals(2, net.allocated.size());
        assertThrows(NotFoundException.class, () -> manager.detachInterface("web1", "nosuch"));
        Instance d = manager.attachInterface("web1", "default", null);
        assertEquals("eth1", d.vifs().get(2).device(), "the freed device name is reused");
        // a plug that fails leaves no allocation and no record of the VIF
        net.failPlugAt = net.plugCalls.get() + 1;
        assertThrows(EngineException.class, () -> manager.attachInterface("web1", "default", null));
        assertEquals(3, manager.show("web1").vifs().size());
        assertEquals(3, net.allocated.size());
        assertEquals(VmState.ACTIVE, manager.show("web1").vmState());
    }
}
