package berth.network.bridge.internal;

import berth.driver.api.InvalidInputException;
import berth.driver.api.Vif;

/**
 * An IPv4 subnet held as an int (network address) and a prefix length, so that address arithmetic needs no
 * InetAddress look-ups (which could resolve names).
 */
record Subnet(int base, int prefix) {

    Subnet {
        if (prefix < 0 || prefix > 32) {
            throw new InvalidInputException("invalid prefix length " + prefix);
        }
        base = base & mask(prefix);
    }

    /**
     * Parses {@code a.b.c.d/p}; refuses host bits, prefixes outside 8..30 and special-purpose ranges.
     */
    static Subnet parseNetwork(String cidr) {
        if (cidr == null || cidr.isBlank()) {
            throw new InvalidInputException("CIDR is missing");
        }
        int slash = cidr.indexOf('/');
        if (slash < 0 || !cidr.substring(slash + 1).matches("\\d{1,2}")) {
            throw new InvalidInputException("invalid CIDR '" + cidr + "' (expected a.b.c.d/prefix)");
        }
        int addr = parseAddress(cidr.substring(0, slash));
        int p = Integer.parseInt(cidr.substring(slash + 1));
        if (p < 8 || p > 30) {
            throw new InvalidInputException("CIDR '" + cidr + "' must have a prefix length between 8 and 30");
        }
        Subnet s = new Subnet(addr, p);
        if (s.base != addr) {
            throw new InvalidInputException("CIDR '" + cidr + "' has host bits set; did you mean " + s + "?");
        }
        for (String reserved : new String[] {"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"}) {
            Subnet r = new Subnet(parseAddress(reserved.substring(0, reserved.indexOf('/'))),
                    Integer.parseInt(reserved.substring(reserved.indexOf('/') + 1)));
            if (r.overlaps(s)) {
                throw new InvalidInputException("CIDR '" + cidr + "' overlaps the reserved range " + r);
            }
        }
        return s;
    }

    static int parseAddress(String s) {
        if (!Vif.isIpv4(s)) {
            throw new InvalidInputException("invalid IPv4 address '" + s + "'");
        }
        String[] p = s.split("\\.");
        return Integer.parseInt(p[0]) << 24 | Integer.parseInt(p[1]) << 16 | Integer.parseInt(p[2]) << 8
                | Integer.parseInt(p[3]);
    }

    static String format(int a) {
        return (a >>> 24) + "." + (a >>> 16 & 255) + "." + (a >>> 8 & 255) + "." + (a & 255);
    }

    static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    int broadcast() {
        return base | ~mask(prefix);
    }

    /** Lowest usable host address. */
    int firstHost() {
        return base + 1;
    }

    /** Highest usable host address. */
    int lastHost() {
        return broadcast() - 1;
    }

    /** Usable host addresses (network and broadcast excluded). */
    int hostCount() {
        return (int) ((1L << (32 - prefix)) - 2);
    }

    boolean containsHost(int a) {
        return (a & mask(prefix)) == base && a != base && a != broadcast();
    }

    boolean overlaps(Subnet o) {
        int p = Math.min(prefix, o.prefix);
        return (base & mask(p)) == (o.base & mask(p));
    }

    @Override
    public String toString() {
        return format(base) + "/" + prefix;
    }
}
