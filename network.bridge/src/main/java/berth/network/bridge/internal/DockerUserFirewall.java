package berth.network.bridge.internal;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * dockerd sets the FORWARD policy to DROP and sends bridged frames through iptables, which silently cuts every
 * Berth bridge. Where its {@code DOCKER-USER} chain exists, one ACCEPT rule per Berth bridge
 * ({@code -i BR -o BR}) lets instances on that bridge talk again. Each rule carries a {@code berth:<scope>} comment so
 * only rules this scope added are ever removed.
 */
final class DockerUserFirewall {

    static final String CHAIN = "DOCKER-USER";
    private static final System.Logger LOG = System.getLogger(DockerUserFirewall.class.getName());

    private final Commands cmd;
    private final String comment;
    private final Set<String> bridges = new LinkedHashSet<>();

    DockerUserFirewall(Commands cmd, String scope) {
        this.cmd = cmd;
        this.comment = "berth:" + Names.scope(scope);
    }

    /** Whether dockerd manages iptables here (its chain exists). */
    boolean dockerManaged() {
        try {
            return cmd.run(List.of(cmd.iptables(), "-w", "5", "-n", "-L", CHAIN), null).ok();
        } catch (RuntimeException e) {
            return false;
        }
    }

    private List<String> rule(String op, String bridge) {
        return List.of(cmd.iptables(), "-w", "5", op, CHAIN, "-i", bridge, "-o", bridge, "-m", "comment",
                "--comment", comment, "-j", "ACCEPT");
    }

    /** Adds the rule for a bridge unless present; returns whether the rule is in place. */
    synchronized boolean allow(String bridge) {
        Names.bridge(bridge);
        bridges.add(bridge);
        if (!dockerManaged()) {
            return false;
        }
        if (cmd.run(rule("-C", bridge), null).ok()) {
            return true;
        }
        Commands.Result r = cmd.run(rule("-I", bridge), null);
        if (!r.ok()) {
            LOG.log(Level.WARNING, "cannot add the DOCKER-USER rule for " + bridge + ": " + Links.oneLine(r.output()));
        }
        return r.ok();
    }

    /** Removes this scope's rule(s) for a bridge. */
    synchronized void revoke(String bridge) {
        bridges.remove(bridge);
        if (!dockerManaged()) {
            return;
        }
        for (int i = 0; i < 5 && cmd.run(rule("-C", bridge), null).ok(); i++) {
            cmd.run(rule("-D", bridge), null);
        }
    }

    /** Re-adds the rules of every bridge allowed so far (after dockerd (re)started and made its chain). */
    synchronized void refresh() {
        for (String b : new ArrayList<>(bridges)) {
            allow(b);
        }
    }

    synchronized boolean present(String bridge) {
        return cmd.run(rule("-C", bridge), null).ok();
    }
}
