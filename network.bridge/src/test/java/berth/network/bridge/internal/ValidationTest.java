package berth.network.bridge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.InvalidInputException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ValidationTest {

    private static final String LONG = "n".repeat(100);

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "my net", "a/b", "../etc", "a;rm -rf /", "x\ny", "$(id)", "-lead", "..",
        "a b", "net#1", "ñet"})
    void hostileNetworkNamesAreRefused(String name) {
        var e = assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of(name, "btest0", "10.250.1.0/24", "", List.of(), 0));
        assertTrue(e.getMessage().startsWith("invalid network name"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void hundredCharacterNamesAreRefused() {
        assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of(LONG, "btest0", "10.250.1.0/24", "", List.of(), 0));
        assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of("n", LONG, "10.250.1.0/24", "", List.of(), 0));
        assertThrows(InvalidInputException.class, () -> Names.device(LONG));
        assertThrows(InvalidInputException.class, () -> Names.instance(LONG));
        // 15 is the kernel's limit
        assertThrows(InvalidInputException.class, () -> Names.bridge("b234567890123456"));
        assertEquals("b23456789012345", Names.bridge("b23456789012345"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"br 0", "br/0", "br;0", "br0;reboot", "0br", "lo", "eth0", "docker0", "veth12",
        "bv0123456789a", "br\t0", "br'0", "br\"0", "br#0"})
    void hostileOrReservedBridgesAreRefused(String bridge) {
        assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of("n", bridge, "10.250.1.0/24", "", List.of(), 0));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.0.0.0/0", "10.0.0.0/7", "10.250.1.0/31", "10.250.1.0/32", "10.250.1.5/24",
        "10.250.1.0", "10.250.1.0/", "10.250.1.0/abc", "10.250.1.0/24;x", "256.1.1.0/24", "127.0.0.0/8",
        "169.254.0.0/16", "224.0.0.0/24", "240.0.0.0/8", "0.1.0.0/16", "host.example/24", "-1.0.0.0/8",
        "10.250.1.0/024"})
    void badCidrsAreRefused(String cidr) {
        var e = assertThrows(InvalidInputException.class, () -> NetworkSpec.of("n", "btest0", cidr, "", List.of(), 0));
        assertTrue(e.getMessage().contains(cidr) || e.getMessage().contains("IPv4"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.250.2.1", "10.250.1.0", "10.250.1.255", "10.250.1", "gateway", "10.250.1.1;",
        "::1"})
    void badGatewaysAreRefused(String gw) {
        assertThrows(InvalidInputException.class, () -> NetworkSpec.of("n", "btest0", "10.250.1.0/24", gw,
                List.of(), 0));
    }

    @Test
    void badDnsAndMtuAreRefused() {
        assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of("n", "btest0", "10.250.1.0/24", "", List.of("8.8.8.8;"), 0));
        assertThrows(InvalidInputException.class, () -> NetworkSpec.of("n", "btest0", "10.250.1.0/24", "",
                List.of("1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"), 0));
        assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of("n", "btest0", "10.250.1.0/24", "", List.of(), 100));
        assertThrows(InvalidInputException.class,
                () -> NetworkSpec.of("n", "btest0", "10.250.1.0/24", "", List.of(), 70000));
    }

    @Test
    void validSpecGetsDefaults() {
        NetworkSpec s = NetworkSpec.of("net-1.a_b", "btest0", "10.250.1.0/24", "", List.of(" 10.250.1.1 "), 0);
        assertEquals("10.250.1.1", s.gatewayAddress());
        assertEquals("10.250.1.1/24", s.gatewayCidr());
        assertEquals(1500, s.mtu());
        assertEquals(List.of("10.250.1.1"), s.dns());
        assertEquals(253, s.capacity());
        var n = s.toNetwork(3);
        assertEquals("10.250.1.0/24", n.cidr());
        assertEquals(250, n.free());
    }

    @Test
    void subnetArithmetic() {
        Subnet a = Subnet.parseNetwork("10.250.0.0/16");
        Subnet b = Subnet.parseNetwork("10.250.7.0/24");
        Subnet c = Subnet.parseNetwork("10.251.0.0/24");
        assertTrue(a.overlaps(b));
        assertTrue(b.overlaps(a));
        assertFalse(a.overlaps(c));
        assertEquals("10.250.255.255", Subnet.format(a.broadcast()));
        assertTrue(b.containsHost(Subnet.parseAddress("10.250.7.254")));
        assertFalse(b.containsHost(Subnet.parseAddress("10.250.7.255")));
        assertFalse(b.containsHost(Subnet.parseAddress("10.250.7.0")));
        Subnet big = Subnet.parseNetwork("200.1.0.0/30");
        assertEquals(2, big.hostCount());
        assertEquals("200.1.0.2", Subnet.format(big.lastHost()));
    }

    @Test
    void hostEndNamesFitTheKernelLimit() {
        assertEquals("bv0123456789a", Names.hostEnd("01234567-89ab-cdef-0123-456789abcdef"));
        String other = Names.hostEnd("port-Foo");
        assertTrue(Names.HOST_END.matcher(other).matches(), other);
        assertEquals(other, Names.hostEnd("port-Foo"));
        assertTrue(other.length() <= 15);
        assertTrue(Names.HOST_END.matcher(Names.hostEnd("a")).matches());
    }

    @Test
    void bridgeMacIsLocallyAdministeredAndStable() {
        String m = Links.bridgeMac("btest0");
        assertTrue(m.matches("0a(:[0-9a-f]{2}){5}"), m);
        assertEquals(m, Links.bridgeMac("btest0"));
    }
}
