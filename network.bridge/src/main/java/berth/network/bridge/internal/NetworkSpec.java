package berth.network.bridge.internal;

import berth.driver.api.InvalidInputException;
import berth.driver.api.Network;
import berth.driver.api.Vif;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated network definition.
 *
 * @param name    network name
 * @param bridge  bridge device
 * @param subnet  subnet
 * @param gateway gateway address, a host of the subnet, held by the bridge
 * @param dns     DNS servers
 * @param mtu     MTU
 */
record NetworkSpec(String name, String bridge, Subnet subnet, int gateway, List<String> dns, int mtu) {

    static final int DEFAULT_MTU = 1500;

    NetworkSpec {
        dns = List.copyOf(dns);
    }

    /**
     * Validates raw settings (from configuration or the shell).
     *
     * @param gateway empty or null for the first host of the subnet
     * @param mtu     0 for 1500
     * @throws InvalidInputException with one line saying what is wrong
     */
    static NetworkSpec of(String name, String bridge, String cidr, String gateway, List<String> dns, int mtu) {
        Names.network(name);
        Names.bridge(bridge);
        Subnet s = Subnet.parseNetwork(cidr);
        int gw;
        if (gateway == null || gateway.isBlank()) {
            gw = s.firstHost();
        } else {
            gw = Subnet.parseAddress(gateway.strip());
            if (!s.containsHost(gw)) {
                throw new InvalidInputException("gateway " + gateway + " is not a host address of " + s);
            }
        }
        List<String> servers = new ArrayList<>();
        for (String d : dns == null ? List.<String>of() : dns) {
            if (d == null || d.isBlank()) {
                continue;
            }
            if (!Vif.isIpv4(d.strip())) {
                throw new InvalidInputException("invalid DNS server '" + d + "'");
            }
            servers.add(d.strip());
        }
        if (servers.size() > 3) {
            throw new InvalidInputException("at most 3 DNS servers (resolv.conf reads no more)");
        }
        int m = mtu == 0 ? DEFAULT_MTU : mtu;
        if (m < 576 || m > 65535) {
            throw new InvalidInputException("invalid MTU " + mtu + " (576..65535)");
        }
        return new NetworkSpec(name, bridge, s, gw, servers, m);
    }

    String gatewayAddress() {
        return Subnet.format(gateway);
    }

    /** Gateway with prefix, as the bridge holds it. */
    String gatewayCidr() {
        return gatewayAddress() + "/" + subnet.prefix();
    }

    /** Addresses a VIF can get: every host of the subnet but the gateway. */
    int capacity() {
        return subnet.hostCount() - 1;
    }

    Network toNetwork(int used) {
        return new Network(name, bridge, subnet.toString(), gatewayAddress(), dns, mtu, used,
                Math.max(0, capacity() - used));
    }
}
