package berth.runtime.internal.compute;

import berth.driver.api.Network;
import berth.driver.api.NotFoundException;
import berth.driver.api.Vif;
import berth.driver.api.spi.NetworkProvider;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** A network provider for unit tests: allocations and plugs are map entries. */
final class FakeNetwork implements NetworkProvider {
    final Map<String, Vif> allocated = new ConcurrentHashMap<>();
    final Map<String, Long> plugged = new ConcurrentHashMap<>();
    final AtomicInteger next = new AtomicInteger(2);
    final AtomicInteger plugCalls = new AtomicInteger();
    /** Fail the n-th allocate (1-based) from now on, 0 for never. */
    volatile int failAllocateAt;
    volatile int failPlugAt;
    volatile boolean failAdopt;
    volatile boolean failRelease;
    private final AtomicInteger allocations = new AtomicInteger();

    @Override
    public List<Network> networks() {
        return List.of(new Network("default", "brtest0", "10.9.0.0/24", "10.9.0.1", List.of(), 1500,
                allocated.size(), 250 - allocated.size()));
    }

    @Override
    public Vif allocate(String network, String instanceId, String device) {
        if (!network.equals("default") && !network.equals("second")) {
            throw new NotFoundException("no network " + network);
        }
        if (failAllocateAt > 0 && allocations.incrementAndGet() == failAllocateAt) {
            throw new berth.driver.api.ConflictException("network " + network + " has no free address");
        }
        int n = next.getAndIncrement();
        Vif v = new Vif("vif-" + n, network, "brtest0", String.format("02:00:00:00:00:%02x", n), "10.9.0." + n, 24,
                "10.9.0.1", List.of(), 1500, device);
        allocated.put(v.id(), v);
        return v;
    }

    @Override
    public Vif adopt(Vif vif, String instanceId) {
        if (failAdopt) {
            throw new berth.driver.api.ConflictException("address " + vif.address() + " is in use");
        }
        allocated.put(vif.id(), vif);
        return vif;
    }

    @Override
    public void release(Vif vif) {
        if (failRelease) {
            throw new berth.driver.api.EngineException("release failed");
        }
        allocated.remove(vif.id());
    }

    @Override
    public void plug(Vif vif, long initPid) {
        int n = plugCalls.incrementAndGet();
        if (failPlugAt > 0 && n == failPlugAt) {
            throw new berth.driver.api.EngineException("cannot move veth into namespace of " + initPid);
        }
        plugged.put(vif.id(), initPid);
    }

    @Override
    public void unplug(Vif vif) {
        plugged.remove(vif.id());
    }
}
