package berth.runtime.internal.shell;

import static berth.runtime.internal.shell.Calls.call;

import berth.driver.api.ComputeService;
import berth.driver.api.Network;
import berth.driver.api.NotFoundException;
import berth.driver.api.spi.NetworkProvider;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/** The {@code net:} commands: networks from the network provider, interfaces through the compute service. */
@Component(service = NetCommands.class)
@GogoCommand(scope = "net", function = {"list", "show", "attach", "detach", "strays"})
public class NetCommands {

    static final String SCOPE = "net";
    private static final String HELP_TEXT = "show this help";

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile NetworkProvider network;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ComputeService compute;

    private static String usage(String function, String synopsis) {
        return Usage.of(NetCommands.class, SCOPE, function, synopsis);
    }

    @Descriptor("list networks with their address use")
    public Object list(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("list", "");
        }
        return call("net:list", () -> {
            Args.parse("net:list", args, Set.of(), Map.of()).exactly("net:list", 0, "no arguments");
            return Listed.of(Network.class, Calls.require(network, "the network provider").networks());
        });
    }

    @Descriptor("list host ends (veths) that belong to no instance; --remove deletes them")
    public Object strays(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("delete them") @Parameter(names = "--remove", presentValue = "true", absentValue = "false") boolean remove,
            String... args) {
        if (help) {
            return usage("strays", "");
        }
        return call("net:strays", () -> {
            Args.parse("net:strays", args, Set.of(), Map.of()).exactly("net:strays", 0, "no arguments");
            NetworkProvider np = Calls.require(network, "the network provider");
            return remove ? np.removeStrays() : np.strays();
        });
    }

    @Descriptor("show a network")
    public Object show(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("show", "NETWORK");
        }
        return call("net:show", () -> {
            String name = Args.parse("net:show", args, Set.of(), Map.of()).one("net:show", "NETWORK");
            List<Network> all = Calls.require(network, "the network provider").networks();
            return all.stream().filter(n -> n.name().equals(name)).findFirst()
                    .orElseThrow(() -> new NotFoundException("network " + name + " not found"));
        });
    }

    @Descriptor("attach a new VIF on a network to an instance, live if it runs")
    public Object attach(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("attach", "INSTANCE NETWORK");
        }
        return call("net:attach", () -> {
            List<String> p = Args.parse("net:attach", args, Set.of(), Map.of()).exactly("net:attach", 2,
                    "INSTANCE NETWORK");
            return Calls.require(compute, "the compute manager").attachInterface(p.get(0), p.get(1), null);
        });
    }

    @Descriptor("detach a VIF from an instance and release its address")
    public Object detach(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("detach", "INSTANCE VIF_ID");
        }
        return call("net:detach", () -> {
            List<String> p = Args.parse("net:detach", args, Set.of(), Map.of()).exactly("net:detach", 2,
                    "INSTANCE VIF_ID");
            return Calls.require(compute, "the compute manager").detachInterface(p.get(0), p.get(1));
        });
    }
}
