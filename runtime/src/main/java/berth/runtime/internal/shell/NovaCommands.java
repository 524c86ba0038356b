package berth.runtime.internal.shell;

import static berth.runtime.internal.shell.Calls.call;

import berth.driver.api.BackendStatus;
import berth.driver.api.BootRequest;
import berth.driver.api.ComputeService;
import berth.runtime.internal.compute.ComputeAdmin;
import berth.driver.api.Diagnostics;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.HostResources;
import berth.driver.api.ImageInfo;
import berth.driver.api.Instance;
import berth.driver.api.RebootType;
import java.time.Duration;
import java.util.Arrays;
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

/**
 * The {@code nova:} commands, named after the nova CLI's verbs. They return data; {@link ShellFormats} prints it.
 * The compute service is optional so that the commands exist (and say why they cannot work) while the compute
 * manager is absent.
 */
@Component(service = NovaCommands.class)
@GogoCommand(scope = "nova", function = {"boot", "list", "show", "delete", "reboot", "stop", "start", "pause",
    "unpause", "suspend", "resume", "snapshot", "console", "exec", "diagnostics", "flavors", "hypervisor",
    "backends", "migrate"})
public class NovaCommands {

    static final String SCOPE = "nova";
    private static final String HELP_TEXT = "show this help";

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ComputeService compute;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ComputeAdmin admin;

    private ComputeService compute() {
        return Calls.require(compute, "the compute manager");
    }

    private static String usage(String function, String synopsis, String... extra) {
        return Usage.of(NovaCommands.class, SCOPE, function, synopsis, extra);
    }

    @Descriptor("boot an instance and wait until it is ACTIVE")
    public Object boot(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("image id or name (required)") @Parameter(names = "--image", absentValue = "") String image,
            @Descriptor("flavor name, see nova:flavors (required)") @Parameter(names = "--flavor", absentValue = "") String flavor,
            @Descriptor("backend to use; default: the highest-ranked one present") @Parameter(names = "--backend", absentValue = "") String backend,
            @Descriptor("network to attach a VIF on; repeat for more") @Parameter(names = "--nic", absentValue = "") String nic,
            @Descriptor("metadata KEY=VALUE, given to the workload as environment; repeatable") @Parameter(names = "--meta", absentValue = "") String meta,
            @Descriptor("command line replacing the image's, one quoted string") @Parameter(names = "--command", absentValue = "") String command,
            @Descriptor("instance name") String... args) {
        if (help) {
            return usage("boot", "NAME");
        }
        String cmd = "nova:boot";
        return call(cmd, () -> {
            Args a = Args.parse(cmd, args, Set.of("--nic", "--meta"), Map.of("--nic", nic, "--meta", meta));
            String name = a.one(cmd, "NAME");
            if (image.isEmpty()) {
                throw new ShellError(cmd + ": --image is required (see glance:images)");
            }
            if (flavor.isEmpty()) {
                throw new ShellError(cmd + ": --flavor is required (see nova:flavors)");
            }
            List<String> argv = command.isBlank() ? List.of() : Arrays.asList(command.trim().split("\\s+"));
            BootRequest req = new BootRequest(name, image, flavor, backend.isEmpty() ? null : backend,
                    a.all("--nic"), List.of(), Args.keyValues(cmd, a.all("--meta")), argv);
            return compute().boot(req, Calls.progress());
        });
    }

    @Descriptor("list instances")
    public Object list(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("list", "");
        }
        return call("nova:list", () -> {
            Args.parse("nova:list", args, Set.of(), Map.of()).exactly("nova:list", 0, "no arguments");
            return Listed.of(Instance.class, compute().list());
        });
    }

    @Descriptor("show an instance")
    public Object show(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("show", "NAME|UUID");
        }
        return call("nova:show", () -> compute().show(one("nova:show", args)));
    }

    @Descriptor("delete an instance: its container, VIFs and addresses")
    public Object delete(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("when its backend is absent: mark it deleted and free its network now, clean the engine when the backend returns")
            @Parameter(names = "--force", presentValue = "true", absentValue = "false") boolean force,
            String... args) {
        if (help) {
            return usage("delete", "NAME|UUID");
        }
        return call("nova:delete", () -> compute().delete(one("nova:delete", args), force));
    }

    @Descriptor("reboot an instance (soft: stop and start; hard: kill and start)")
    public Object reboot(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("kill instead of asking the workload to stop") @Parameter(names = "--hard", presentValue = "true", absentValue = "false") boolean hard,
            String... args) {
        if (help) {
            return usage("reboot", "NAME|UUID");
        }
        return call("nova:reboot",
                () -> compute().reboot(one("nova:reboot", args), hard ? RebootType.HARD : RebootType.SOFT));
    }

    @Descriptor("power an instance off")
    public Object stop(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("seconds the workload has to stop before it is killed") @Parameter(names = "--timeout", absentValue = "10") int timeout,
            String... args) {
        if (help) {
            return usage("stop", "NAME|UUID");
        }
        return call("nova:stop", () -> {
            if (timeout < 0) {
                throw new ShellError("nova:stop: --timeout must not be negative");
            }
            return compute().stop(one("nova:stop", args), Duration.ofSeconds(timeout));
        });
    }

    @Descriptor("power an instance on")
    public Object start(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("start", "NAME|UUID");
        }
        return call("nova:start", () -> compute().start(one("nova:start", args)));
    }

    @Descriptor("pause an instance (freeze its processes)")
    public Object pause(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("pause", "NAME|UUID");
        }
        return call("nova:pause", () -> compute().pause(one("nova:pause", args)));
    }

    @Descriptor("unpause an instance")
    public Object unpause(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("unpause", "NAME|UUID");
        }
        return call("nova:unpause", () -> compute().unpause(one("nova:unpause", args)));
    }

    @Descriptor("suspend an instance")
    public Object suspend(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("suspend", "NAME|UUID");
        }
        return call("nova:suspend", () -> compute().suspend(one("nova:suspend", args)));
    }

    @Descriptor("resume a suspended instance")
    public Object resume(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("resume", "NAME|UUID");
        }
        return call("nova:resume", () -> compute().resume(one("nova:resume", args)));
    }

    @Descriptor("capture an instance's filesystem as a new image")
    public Object snapshot(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("snapshot", "NAME|UUID IMAGE_NAME");
        }
        String cmd = "nova:snapshot";
        return call(cmd, () -> {
            List<String> p = Args.parse(cmd, args, Set.of(), Map.of()).exactly(cmd, 2, "NAME|UUID IMAGE_NAME");
            ImageInfo image = compute().snapshot(p.get(0), p.get(1), Calls.progress());
            return image;
        });
    }

    @Descriptor("print the last lines of an instance's console output")
    public Object console(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("how many of the last lines") @Parameter(names = {"-n", "--lines"}, absentValue = "50") int lines,
            String... args) {
        if (help) {
            return usage("console", "NAME|UUID");
        }
        return call("nova:console", () -> {
            if (lines < 1) {
                throw new ShellError("nova:console: --lines must be at least 1");
            }
            String out = compute().console(one("nova:console", args), lines);
            return out.endsWith("\n") ? out.substring(0, out.length() - 1) : out;
        });
    }

    /**
     * Options are parsed by hand here: Gogo's {@code @Parameter} matching would take a {@code --help} or
     * {@code --timeout} out of the command's own argv.
     */
    @Descriptor("run a command inside a running instance; exit code, stdout and stderr are the command's")
    public Object exec(@Descriptor("[--timeout SECONDS] [--env KEY=VALUE]... NAME -- ARGV...") String... args) {
        String cmd = "nova:exec";
        String[] in = args == null ? new String[0] : args;
        if (in.length == 0 || "--help".equals(in[0]) || "-h".equals(in[0])) {
            String u = usage("exec", "NAME -- ARGV...", "--timeout SECONDS", "how long it may run (default 60)",
                    "--env KEY=VALUE", "extra environment; repeatable", "-h, --help", HELP_TEXT);
            if (in.length == 0) {
                throw new ShellError(cmd + ": expected NAME -- ARGV... (see nova:exec --help)");
            }
            return u;
        }
        return call(cmd, () -> {
            int timeout = 60;
            Map<String, String> env = new java.util.LinkedHashMap<>();
            String name = null;
            int i = 0;
            for (; i < in.length; i++) {
                String s = in[i];
                if ("--".equals(s)) {
                    i++;
                    break;
                } else if ("--timeout".equals(s) && i + 1 < in.length && name == null) {
                    try {
                        timeout = Integer.parseInt(in[++i]);
                    } catch (NumberFormatException e) {
                        throw new ShellError(cmd + ": --timeout needs a number of seconds, got '" + in[i] + "'");
                    }
                } else if ("--env".equals(s) && i + 1 < in.length && name == null) {
                    env.putAll(Args.keyValues(cmd, List.of(in[++i])));
                } else if (s.startsWith("-") && name == null) {
                    throw new ShellError(cmd + ": unknown option " + s + " (see nova:exec --help)");
                } else if (name == null) {
                    name = s;
                } else {
                    break;
                }
            }
            if (name == null) {
                throw new ShellError(cmd + ": expected NAME -- ARGV... (see nova:exec --help)");
            }
            List<String> argv = List.copyOf(Arrays.asList(in).subList(i, in.length));
            if (argv.isEmpty()) {
                throw new ShellError(cmd + ": no command given after " + name + " (nova:exec NAME -- ARGV...)");
            }
            if (timeout < 1) {
                throw new ShellError(cmd + ": --timeout must be at least 1 second");
            }
            ExecResult r = compute().exec(name, argv, env, Duration.ofSeconds(timeout));
            return r;
        });
    }

    @Descriptor("show an instance's resource use")
    public Object diagnostics(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("diagnostics", "NAME|UUID");
        }
        return call("nova:diagnostics", () -> {
            Diagnostics d = compute().diagnostics(one("nova:diagnostics", args));
            return d;
        });
    }

    @Descriptor("list the flavors")
    public Object flavors(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("flavors", "");
        }
        return call("nova:flavors", () -> {
            Args.parse("nova:flavors", args, Set.of(), Map.of()).exactly("nova:flavors", 0, "no arguments");
            return Listed.of(Flavor.class, compute().flavors());
        });
    }

    @Descriptor("show host resources per present backend")
    public Object hypervisor(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            String... args) {
        if (help) {
            return usage("hypervisor", "");
        }
        return call("nova:hypervisor", () -> {
            Args.parse("nova:hypervisor", args, Set.of(), Map.of()).exactly("nova:hypervisor", 0, "no arguments");
            return Listed.of(HostResources.class, compute().hypervisors());
        });
    }

    @Descriptor("list backends, present or not, and which one new boots go to")
    public Object backends(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("make this backend the default for new boots (persisted); 'ranking' returns to the service ranking")
            @Parameter(names = "--prefer", absentValue = "") String prefer,
            String... args) {
        if (help) {
            return usage("backends", "");
        }
        return call("nova:backends", () -> {
            Args.parse("nova:backends", args, Set.of(), Map.of()).exactly("nova:backends", 0, "no arguments");
            if (!prefer.isEmpty()) {
                ComputeAdmin a = Calls.require(admin, "the compute manager");
                boolean persisted = a.preferBackend("ranking".equals(prefer) ? "" : prefer);
                if (!persisted) {
                    org.apache.felix.service.command.Process p = org.apache.felix.service.command.Process.Utils.current();
                    (p != null ? p.err() : System.err)
                            .println("nova:backends: no ConfigurationAdmin; the preference holds for this run only");
                }
            }
            return Listed.of(BackendStatus.class, compute().backends());
        });
    }

    @Descriptor("cold-migrate an instance to another backend, keeping uuid, name, flavor, MAC and IP")
    public Object migrate(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("target backend, for example lxc or docker (required)") @Parameter(names = "--to", absentValue = "") String to,
            String... args) {
        if (help) {
            return usage("migrate", "NAME|UUID --to BACKEND");
        }
        return call("nova:migrate", () -> {
            if (to.isEmpty()) {
                throw new ShellError("nova:migrate: --to BACKEND is required");
            }
            return compute().migrate(one("nova:migrate", args), to, Calls.progress());
        });
    }

    private static String one(String cmd, String[] args) {
        return Args.parse(cmd, args, Set.of(), Map.of()).one(cmd, "NAME|UUID");
    }
}
