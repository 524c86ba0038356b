package berth.runtime.internal.shell;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * {@code berth:help}: the Berth commands that are registered right now, read from the service registry rather
 * than from a fixed list, so it shows exactly what the shell can run.
 */
@Component(service = BerthCommands.class)
@GogoCommand(scope = "berth", function = {"help"})
public class BerthCommands {

    private static final Set<String> SCOPES = Set.of("berth", "nova", "glance", "net");
    private final BundleContext context;

    @Activate
    public BerthCommands(BundleContext context) {
        this.context = context;
    }

    @Descriptor("list Berth's commands; every command also takes --help")
    public Object help(CommandSession session,
            @Descriptor("show this help") @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("a command to explain") String... command) throws Exception {
        if (help) {
            return Usage.of(BerthCommands.class, "berth", "help", "[COMMAND]");
        }
        if (command != null && command.length == 1) {
            // the command's own --help is the one place its usage is kept
            return session.execute(command[0].replaceAll("[^A-Za-z0-9:_.-]", "") + " --help");
        }
        if (command != null && command.length > 1) {
            throw new ShellError("berth:help: give at most one command");
        }
        List<CommandInfo> out = new ArrayList<>();
        ServiceReference<?>[] refs;
        try {
            refs = context.getAllServiceReferences(null, "(osgi.command.scope=*)");
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        for (ServiceReference<?> ref : refs == null ? new ServiceReference<?>[0] : refs) {
            String scope = String.valueOf(ref.getProperty("osgi.command.scope"));
            if (!SCOPES.contains(scope)) {
                continue;
            }
            Object service = context.getService(ref);
            if (service == null) {
                continue;
            }
            try {
                for (String function : functions(ref.getProperty("osgi.command.function"))) {
                    out.add(new CommandInfo(scope + ":" + function, describe(service.getClass(), function)));
                }
            } finally {
                context.ungetService(ref);
            }
        }
        out.sort(Comparator.comparing(CommandInfo::command));
        return Listed.of(CommandInfo.class, out);
    }

    private static List<String> functions(Object prop) {
        if (prop instanceof String[]) {
            return List.of((String[]) prop);
        }
        return prop == null ? List.of() : List.of(String.valueOf(prop));
    }

    private static String describe(Class<?> type, String function) {
        for (Method m : type.getMethods()) {
            if (m.getName().equals(function) || m.getName().equals("_" + function)) {
                Descriptor d = m.getAnnotation(Descriptor.class);
                if (d != null) {
                    return d.value();
                }
            }
        }
        return "";
    }
}
