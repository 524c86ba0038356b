package berth.driver.api;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link ComputeService#boot(BootRequest)} needs. Names are validated by the compute service, which
 * knows the rules for the whole host; this record only normalises.
 *
 * @param name     instance name (hostname rules)
 * @param image    image id or name
 * @param flavor   flavor name
 * @param backend  backend to use, or {@code null} for the highest-ranked one present
 * @param networks networks to allocate a VIF on, in device order; empty for no network
 * @param ports    VIFs allocated outside Berth (as Neutron ports), plugged after {@code networks}
 * @param metadata key/value metadata, given to the workload as environment
 * @param command  command line overriding the image's, or empty to keep the image's
 */
public record BootRequest(String name, String image, String flavor, String backend, List<String> networks,
        List<Vif> ports, Map<String, String> metadata, List<String> command) {

    public BootRequest {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(flavor, "flavor");
        networks = List.copyOf(networks == null ? List.of() : networks);
        ports = List.copyOf(ports == null ? List.of() : ports);
        metadata = Map.copyOf(metadata == null ? Map.of() : metadata);
        command = List.copyOf(command == null ? List.of() : command);
    }
}
