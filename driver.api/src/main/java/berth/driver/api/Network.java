package berth.driver.api;

import java.util.List;
import java.util.Objects;

/**
 * A named network: one Linux bridge and one IPv4 subnet.
 *
 * @param name    network name
 * @param bridge  bridge device
 * @param cidr    subnet, for example {@code 10.88.0.0/24}
 * @param gateway gateway address (held by the bridge)
 * @param dns     DNS servers handed to instances
 * @param mtu     MTU
 * @param used    addresses allocated now
 * @param free    addresses still free
 */
public record Network(String name, String bridge, String cidr, String gateway, List<String> dns, int mtu, int used,
        int free) {
    public Network {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(bridge, "bridge");
        Objects.requireNonNull(cidr, "cidr");
        dns = List.copyOf(dns == null ? List.of() : dns);
    }
}
