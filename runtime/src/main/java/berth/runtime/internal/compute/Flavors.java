package berth.runtime.internal.compute;

import berth.driver.api.Flavor;
import berth.driver.api.InvalidInputException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The flavor catalogue: the shipped flavors plus those configured as {@code name:memMB:vcpus[:pids]}. */
public final class Flavors {

    /** The catalogue of architecture.md. */
    public static final List<Flavor> SHIPPED = List.of(
            new Flavor("c1.nano", 64, 1, defaultPids(64)),
            new Flavor("c1.micro", 128, 1, defaultPids(128)),
            new Flavor("c1.small", 256, 1, defaultPids(256)),
            new Flavor("c1.medium", 512, 2, defaultPids(512)),
            new Flavor("c1.large", 1024, 2, defaultPids(1024)),
            new Flavor("c1.xlarge", 2048, 4, defaultPids(2048)));

    private final Map<String, Flavor> byName;

    private Flavors(Map<String, Flavor> byName) {
        this.byName = byName;
    }

    /**
     * A workload gets 4 processes per MiB, between 256 and 4096: enough for a small init plus shells, and a fork
     * bomb stays bounded.
     */
    static int defaultPids(int memoryMb) {
        return (int) Math.max(256, Math.min(4096, memoryMb * 4L));
    }

    /**
     * @param extra configured flavors, {@code name:memMB:vcpus[:pids]}; a name of a shipped flavor replaces it
     * @return the catalogue
     * @throws IllegalArgumentException naming the bad entry, when one does not parse
     */
    public static Flavors of(String[] extra) {
        Map<String, Flavor> m = new LinkedHashMap<>();
        for (Flavor f : SHIPPED) {
            m.put(f.name(), f);
        }
        if (extra != null) {
            for (String e : extra) {
                if (e == null || e.isBlank()) {
                    continue;
                }
                Flavor f = parse(e.trim());
                m.put(f.name(), f);
            }
        }
        return new Flavors(m);
    }

    static Flavor parse(String entry) {
        String[] p = entry.split(":", -1);
        if (p.length < 3 || p.length > 4) {
            throw new IllegalArgumentException("flavor '" + entry + "' is not name:memMB:vcpus[:pids]");
        }
        try {
            int mem = Integer.parseInt(p[1].trim());
            int vcpus = Integer.parseInt(p[2].trim());
            int pids = p.length == 4 ? Integer.parseInt(p[3].trim()) : defaultPids(mem);
            return new Flavor(p[0].trim(), mem, vcpus, pids);
        } catch (NumberFormatException | InvalidInputException e) {
            throw new IllegalArgumentException("flavor '" + entry + "': " + e.getMessage(), e);
        }
    }

    /**
     * @param name flavor name
     * @return the flavor
     * @throws InvalidInputException when there is no such flavor
     */
    public Flavor get(String name) {
        Flavor f = name == null ? null : byName.get(name);
        if (f == null) {
            throw new InvalidInputException("unknown flavor " + Names.show(name) + " (known: "
                    + String.join(", ", byName.keySet()) + ")");
        }
        return f;
    }

    /** @return every flavor, smallest first */
    public List<Flavor> list() {
        List<Flavor> l = new ArrayList<>(byName.values());
        l.sort(Comparator.comparingInt(Flavor::memoryMb).thenComparingInt(Flavor::vcpus)
                .thenComparing(Flavor::name));
        return l;
    }
}
