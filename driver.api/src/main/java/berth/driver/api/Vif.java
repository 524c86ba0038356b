package berth.driver.api;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A virtual interface of an instance, as Neutron hands a port to Nova: allocated by Berth's network provider or
 * adopted from outside. The MAC and address stay the same for the life of the VIF, across every re-plug.
 *
 * @param id       VIF id (a UUID for ports Berth allocates)
 * @param network  name of the network it belongs to
 * @param bridge   Linux bridge the host end joins
 * @param mac      MAC address, lower-case colon form
 * @param address  IPv4 address of the instance
 * @param prefix   prefix length of the network, 1..30
 * @param gateway  default gateway, or {@code null} for none
 * @param dns      DNS servers, possibly empty
 * @param mtu      MTU, 576..65535
 * @param device   interface name inside the instance, for example {@code eth0}
 */
public record Vif(String id, String network, String bridge, String mac, String address, int prefix, String gateway,
        List<String> dns, int mtu, String device) {

    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Pattern IPV4 = Pattern
            .compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");
    private static final Pattern IFNAME = Pattern.compile("[a-zA-Z][a-zA-Z0-9_.-]{0,14}");

    public Vif {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(bridge, "bridge");
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(device, "device");
        if (!id.matches("[A-Za-z0-9-]{1,64}")) {
            throw new InvalidInputException("invalid VIF id '" + id + "'");
        }
        if (!MAC.matcher(mac).matches()) {
            throw new InvalidInputException("invalid MAC address '" + mac + "'");
        }
        if (!isIpv4(address)) {
            throw new InvalidInputException("invalid IPv4 address '" + address + "'");
        }
        if (prefix < 1 || prefix > 30) {
            throw new InvalidInputException("invalid prefix length " + prefix);
        }
        if (gateway != null && !isIpv4(gateway)) {
            throw new InvalidInputException("invalid gateway '" + gateway + "'");
        }
        dns = List.copyOf(dns == null ? List.of() : dns);
        for (String d : dns) {
            if (!isIpv4(d)) {
                throw new InvalidInputException("invalid DNS server '" + d + "'");
            }
        }
        if (mtu < 576 || mtu > 65535) {
            throw new InvalidInputException("invalid MTU " + mtu);
        }
        if (!IFNAME.matcher(bridge).matches()) {
            throw new InvalidInputException("invalid bridge name '" + bridge + "'");
        }
        if (!IFNAME.matcher(device).matches()) {
            throw new InvalidInputException("invalid device name '" + device + "'");
        }
    }

    /**
     * @param s text to test
     * @return whether {@code s} is a dotted-quad IPv4 address
     */
    public static boolean isIpv4(String s) {
        return s != null && IPV4.matcher(s).matches();
    }

    /** @return the address in CIDR form, for example {@code 10.0.0.5/24} */
    public String cidr() {
        return address + "/" + prefix;
    }

    /**
     * @param newDevice the interface name to use inside the instance
     * @return this VIF with another device name
     */
    public Vif withDevice(String newDevice) {
        return new Vif(id, network, bridge, mac, address, prefix, gateway, dns, mtu, newDevice);
    }
}
