package berth.runtime.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.felix.service.command.CommandProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;
import org.osgi.test.junit5.context.BundleContextExtension;
import org.osgi.test.junit5.service.ServiceExtension;

/** The runtime resolves inside Felix, its components come up, and every shell command is registered. */
@ExtendWith(BundleContextExtension.class)
@ExtendWith(ServiceExtension.class)
class RuntimeIntegrationTest {

    /** The commands issue 2 names, plus the glance/net/berth ones of the shell. */
    static final Set<String> COMMANDS = Set.of("nova:boot", "nova:list", "nova:show", "nova:delete", "nova:reboot",
            "nova:stop", "nova:start", "nova:pause", "nova:unpause", "nova:suspend", "nova:resume", "nova:snapshot",
            "nova:console", "nova:exec", "nova:flavors", "nova:hypervisor", "nova:backends", "glance:images",
            "glance:show", "glance:import", "glance:delete", "net:list", "net:show", "net:attach", "net:detach",
            "berth:help");

    @InjectBundleContext
    BundleContext context;

    @Test
    void everyBundleIsActive() {
        List<String> notActive = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            boolean fragment = b.getHeaders("").get("Fragment-Host") != null;
            if (!fragment && b.getState() != Bundle.ACTIVE && !b.getLocation().startsWith("berth-itest:")) {
                notActive.add(b.getSymbolicName() + " " + b.getState());
            }
        }
        assertEquals(List.of(), notActive);
    }

    @Test
    void runtimeComponentsAreSatisfied(@InjectService(timeout = 10_000) ServiceComponentRuntime scr) {
        Bundle runtime = bundle("berth.runtime");
        List<String> bad = new ArrayList<>();
        int checked = 0;
        for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs(runtime)) {
            if (!scr.isComponentEnabled(d)) {
                continue;
            }
            for (ComponentConfigurationDTO c : scr.getComponentConfigurationDTOs(d)) {
                checked++;
                if (c.state == ComponentConfigurationDTO.UNSATISFIED_REFERENCE
                        || c.state == ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION
                        || c.state == ComponentConfigurationDTO.FAILED_ACTIVATION) {
                    bad.add(d.name + " state " + c.state + (c.failure == null ? "" : " " + c.failure));
                }
            }
        }
        assertEquals(List.of(), bad);
        assertTrue(checked >= 6, "expected the runtime's components, found " + checked);
    }

    @Test
    void everyCommandIsRegistered() throws Exception {
        Set<String> registered = new TreeSet<>();
        ServiceReference<?>[] refs = context.getAllServiceReferences(null, "(osgi.command.scope=*)");
        for (ServiceReference<?> r : refs) {
            String scope = String.valueOf(r.getProperty("osgi.command.scope"));
            Object f = r.getProperty("osgi.command.function");
            for (String function : f instanceof String[] a ? a : new String[] {String.valueOf(f)}) {
                registered.add(scope + ":" + function);
            }
        }
        Set<String> missing = new TreeSet<>(COMMANDS);
        missing.removeAll(registered);
        assertEquals(Set.of(), missing);
    }

    @Test
    void everyCommandHasHelp(@InjectService(timeout = 10_000) CommandProcessor processor) throws Exception {
        try (Shell shell = new Shell(processor)) {
            for (String command : COMMANDS) {
                String help = shell.run(command + " --help");
                assertTrue(help.startsWith(command) && help.contains("Usage: " + command),
                        command + " --help printed: " + help);
            }
            String list = shell.run("berth:help");
            for (String command : COMMANDS) {
                assertTrue(list.contains("| " + command + " "), "berth:help lacks " + command + ":\n" + list);
            }
        }
    }

    @Test
    void flavorsPrintAsAlignedTable(@InjectService(timeout = 10_000) CommandProcessor processor) throws Exception {
        try (Shell shell = new Shell(processor)) {
            String table = shell.run("nova:flavors");
            String[] lines = table.split("\n");
            assertTrue(lines.length >= 6 + 4, table);
            for (String line : lines) {
                assertEquals(lines[0].length(), line.length(), "not aligned:\n" + table);
            }
            assertTrue(table.contains("c1.nano") && table.contains("c1.xlarge"), table);
        }
    }

    private Bundle bundle(String bsn) {
        for (Bundle b : context.getBundles()) {
            if (bsn.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + bsn);
    }
}
