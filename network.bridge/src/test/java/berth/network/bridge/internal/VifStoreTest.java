package berth.network.bridge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ConflictException;
import berth.driver.api.InvalidInputException;
import berth.driver.api.Vif;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VifStoreTest {

    @TempDir
    Path state;

    private final NetworkSpec net = NetworkSpec.of("t", "btest0", "10.250.9.0/29", "", List.of("10.250.9.1"), 1400);

    @Test
    void allocatesUniqueAddressesAndMacsUntilFull() {
        try (VifStore s = new VifStore(state)) {
            Set<String> addrs = new HashSet<>();
            Set<String> macs = new HashSet<>();
            for (int i = 0; i < 5; i++) {
                Vif v = s.allocate(net, "inst-" + i, "eth0");
                assertTrue(addrs.add(v.address()), v.address());
                assertTrue(macs.add(v.mac()), v.mac());
                assertTrue(v.mac().matches("02(:[0-9a-f]{2}){5}"), v.mac());
                assertNotEquals("10.250.9.1", v.address());
                assertEquals(29, v.prefix());
                assertEquals("10.250.9.1", v.gateway());
                assertEquals(1400, v.mtu());
                assertEquals(List.of("10.250.9.1"), v.dns());
                assertTrue(Names.HOST_END.matcher(Names.hostEnd(v.id())).matches());
            }
            assertEquals(Set.of("10.250.9.2", "10.250.9.3", "10.250.9.4", "10.250.9.5", "10.250.9.6"), addrs);
            var e = assertThrows(ConflictException.class, () -> s.allocate(net, "inst-x", "eth0"));
            assertEquals("network t has no free address", e.getMessage());
            assertEquals(5, s.usedOn(net));
        }
    }

    @Test
    void allocateIsIdempotentPerInstanceAndDevice() {
        try (VifStore s = new VifStore(state)) {
            Vif a = s.allocate(net, "inst-1", "eth0");
            assertEquals(a, s.allocate(net, "inst-1", "eth0"));
            Vif b = s.allocate(net, "inst-1", "eth1");
            assertNotEquals(a.address(), b.address());
            NetworkSpec other = NetworkSpec.of("u", "btest1", "10.250.10.0/24", "", List.of(), 0);
            assertThrows(ConflictException.class, () -> s.allocate(other, "inst-1", "eth0"));
            assertThrows(InvalidInputException.class, () -> s.allocate(net, "inst 1", "eth0"));
            assertThrows(InvalidInputException.class, () -> s.allocate(net, "inst-1", "lo"));
            assertThrows(InvalidInputException.class, () -> s.allocate(net, "inst-1", "eth0;x"));
        }
    }

    @Test
    void releaseFreesAndIsNotReusedAtOnce() {
        try (VifStore s = new VifStore(state)) {
            Vif a = s.allocate(net, "inst-1", "eth0");
            Vif b = s.allocate(net, "inst-2", "eth0");
            assertTrue(s.release(a.id()).isPresent());
            assertTrue(s.release(a.id()).isEmpty());
            Vif c = s.allocate(net, "inst-3", "eth0");
            assertNotEquals(a.address(), c.address(), "next-fit: a just-freed address waits its turn");
            assertNotEquals(b.address(), c.address());
        }
    }

    @Test
    void recordsSurviveReopenAndNothingIsHandedOutTwice() throws Exception {
        List<Vif> before;
        try (VifStore s = new VifStore(state)) {
            before = List.of(s.allocate(net, "inst-1", "eth0"), s.allocate(net, "inst-2", "eth0"));
        }
        // a temporary file of an interrupted write is swept on load
        Path tmp = state.resolve("t").resolve(".x.vif.123.tmp");
        Files.writeString(tmp, "id=half");
        try (VifStore s = new VifStore(state)) {
            assertFalse(Files.exists(tmp));
            assertEquals(Set.copyOf(before), Set.copyOf(s.entries().stream().map(VifStore.Entry::vif).toList()));
            for (int i = 0; i < 3; i++) {
                Vif v = s.allocate(net, "inst-n" + i, "eth0");
                for (Vif b : before) {
                    assertNotEquals(b.address(), v.address());
                    assertNotEquals(b.mac(), v.mac());
                }
            }
        }
    }

    @Test
    void secondStoreOnTheSameDirectoryIsRefused() {
        try (VifStore s = new VifStore(state)) {
            var e = assertThrows(ConflictException.class, () -> new VifStore(state));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
        }
        new VifStore(state).close();
    }

    @Test
    void adoptRecordsForeignPortsAndRefusesClashes() {
        try (VifStore s = new VifStore(state)) {
            Vif port = new Vif("6f1c2f0e-0000-4000-8000-000000000001", "t", "btest0", "fa:16:3e:00:00:01",
                    "10.250.9.6", 29, "10.250.9.1", List.of(), 1400, "eth0");
            assertEquals(port, s.adopt(port, "inst-9", net));
            assertEquals(port, s.adopt(port, "inst-9", net), "adopting the same port again is a no-op");
            for (int i = 0; i < 4; i++) {
                assertNotEquals("10.250.9.6", s.allocate(net, "inst-" + i, "eth0").address());
            }
            Vif sameAddr = new Vif("6f1c2f0e-0000-4000-8000-000000000002", "t", "btest0", "fa:16:3e:00:00:02",
                    "10.250.9.6", 29, "10.250.9.1", List.of(), 1400, "eth0");
            assertThrows(ConflictException.class, () -> s.adopt(sameAddr, "inst-8", net));
            Vif sameMac = new Vif("6f1c2f0e-0000-4000-8000-000000000003", "x", "btest9", "fa:16:3e:00:00:01",
                    "10.99.0.2", 24, null, List.of(), 1500, "eth0");
            assertThrows(ConflictException.class, () -> s.adopt(sameMac, "inst-8", null));
            Vif outside = new Vif("6f1c2f0e-0000-4000-8000-000000000004", "t", "btest0", "fa:16:3e:00:00:04",
                    "10.250.19.6", 29, null, List.of(), 1400, "eth0");
            assertThrows(InvalidInputException.class, () -> s.adopt(outside, "inst-8", net));
            Vif gw = new Vif("6f1c2f0e-0000-4000-8000-000000000005", "t", "btest0", "fa:16:3e:00:00:05",
                    "10.250.9.1", 29, null, List.of(), 1400, "eth0");
            assertThrows(ConflictException.class, () -> s.adopt(gw, "inst-8", net));
            Vif badGw = new Vif("6f1c2f0e-0000-4000-8000-000000000006", "x", "btest9", "fa:16:3e:00:00:06",
                    "10.99.0.2", 24, "10.98.0.1", List.of(), 1500, "eth0");
            assertThrows(InvalidInputException.class, () -> s.adopt(badGw, "inst-8", null));
            Vif changed = new Vif(port.id(), "t", "btest0", "fa:16:3e:00:00:07", "10.250.9.6", 29, "10.250.9.1",
                    List.of(), 1400, "eth0");
            assertThrows(ConflictException.class, () -> s.adopt(changed, "inst-9", net));
        }
        try (VifStore s = new VifStore(state)) {
            assertTrue(s.get("6f1c2f0e-0000-4000-8000-000000000001").orElseThrow().adopted());
        }
    }

    @Test
    void concurrentAllocationsNeverShareAnAddress() throws Exception {
        NetworkSpec big = NetworkSpec.of("c", "btest2", "10.250.64.0/22", "", List.of(), 0);
        try (VifStore s = new VifStore(state)) {
            Set<String> addrs = java.util.concurrent.ConcurrentHashMap.newKeySet();
            var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
            try {
                List<java.util.concurrent.Future<?>> fs = new java.util.ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int tt = t;
                    fs.add(pool.submit(() -> {
                        for (int i = 0; i < 50; i++) {
                            assertTrue(addrs.add(s.allocate(big, "t" + tt + "-" + i, "eth0").address()));
                        }
                    }));
                }
                for (var f : fs) {
                    f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(400, addrs.size());
            assertEquals(400, s.usedOn(big));
        }
    }

    @Test
    void recordFormatRoundTrips() {
        Vif v = new Vif("abc", "t", "btest0", "02:00:00:00:00:01", "10.250.9.2", 29, null, List.of("1.1.1.1",
                "8.8.8.8"), 1400, "eth1");
        VifStore.Entry e = new VifStore.Entry(v, "inst-1", true);
        assertEquals(e, VifStore.parse(VifStore.format(e)));
    }
}
