package berth.network.bridge.internal;

import java.util.Arrays;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * One named network from a factory configuration of pid {@code berth.network}. Validation happens here, so an
 * invalid configuration never becomes a service (DS logs the one-line reason); {@link LinuxBridgeNetwork} picks up
 * the valid ones and checks them against each other and the host.
 */
@Component(configurationPid = NetworkDefinition.PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        service = NetworkDefinition.class)
@Designate(ocd = NetworkDefinition.Config.class, factory = true)
public final class NetworkDefinition {

    static final String PID = "berth.network";

    /** A named network. */
    @ObjectClassDefinition(id = PID, name = "Berth network", description = "A Linux bridge and its IPv4 subnet")
    public @interface Config {
        @AttributeDefinition(description = "Network name: 1-32 of letters, digits, '_', '.', '-'")
        String name();

        @AttributeDefinition(description = "Bridge device, at most 15 characters; created if missing")
        String bridge();

        @AttributeDefinition(description = "IPv4 subnet, for example 10.121.0.0/24 (prefix 8..30)")
        String cidr();

        @AttributeDefinition(description = "Gateway held by the bridge; empty for the first host of the subnet",
                required = false)
        String gateway() default "";

        @AttributeDefinition(description = "DNS servers handed to instances", required = false)
        String[] dns() default {};

        @AttributeDefinition(description = "MTU of the bridge and of every VIF", required = false)
        int mtu() default NetworkSpec.DEFAULT_MTU;
    }

    private final NetworkSpec spec;

    /**
     * @param cfg the configuration
     * @throws berth.driver.api.InvalidInputException when it is invalid (DS then does not register the service)
     */
    @Activate
    public NetworkDefinition(Config cfg) {
        this.spec = NetworkSpec.of(cfg.name(), cfg.bridge(), cfg.cidr(), cfg.gateway(),
                cfg.dns() == null ? null : Arrays.asList(cfg.dns()), cfg.mtu());
    }

    NetworkSpec spec() {
        return spec;
    }
}
