package berth.runtime.internal.bench;

import berth.driver.api.BerthException;
import berth.driver.api.ComputeService;
import berth.driver.api.spi.ComputeDriver;
import berth.runtime.internal.control.RuntimeProperties;
import berth.runtime.internal.shell.ShellError;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.Process;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * {@code nova:bench}: the comparative benchmark of the backends, Berth's path against the engine's own, in one
 * run. Returns the figures ({@link BenchReport}, printed as tables by {@link BenchFormats}), writes CSV and an
 * HTML report, and prints progress to the caller's stderr while it runs. Interrupting it (Ctrl-C in the shell)
 * stops the run and removes everything it created.
 */
@Component(service = BenchCommands.class)
@GogoCommand(scope = "nova", function = {"bench"})
public class BenchCommands {

    private static final String CMD = "nova:bench";

    private final Path stateDir;
    private final String scope;
    private final String dockerHost;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ComputeService compute;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<ComputeDriver> drivers;

    @Activate
    public BenchCommands(BundleContext context) {
        this(Path.of(RuntimeProperties.stateDir(context::getProperty)), RuntimeProperties.scope(context::getProperty),
                or(context.getProperty("berth.docker.host"), "unix:///var/run/docker.sock"));
    }

    BenchCommands(Path stateDir, String scope, String dockerHost) {
        this.stateDir = stateDir;
        this.scope = scope;
        this.dockerHost = dockerHost;
    }

    @Descriptor("benchmark the backends: boot, lifecycle, exec, delete and memory, against the raw engine path")
    public Object bench(CommandSession session,
            @Descriptor("show this help") @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("backends to measure, comma-separated (default: every backend present)") @Parameter(names = "--backend", absentValue = "") String backend,
            @Descriptor("instances per backend") @Parameter(names = {"-n", "--count"}, absentValue = "20") int count,
            @Descriptor("operations in flight at once") @Parameter(names = {"-p", "--parallel"}, absentValue = "1") int parallel,
            @Descriptor("image id or name") @Parameter(names = "--image", absentValue = "busybox") String image,
            @Descriptor("flavor name") @Parameter(names = "--flavor", absentValue = "c1.nano") String flavor,
            @Descriptor("network to give each instance a VIF on, comma-separated (default: none)") @Parameter(names = "--network", absentValue = "") String network,
            @Descriptor("report folder (default: ${berth.state.dir}/bench/<timestamp>)") @Parameter(names = {"-o", "--out"}, absentValue = "") String out,
            @Descriptor("seconds to wait for the compute manager, backends and image to appear") @Parameter(names = "--wait", absentValue = "60") int wait,
            @Descriptor("seconds a stop may take before the workload is killed") @Parameter(names = "--stop-timeout", absentValue = "10") int stopTimeout,
            @Descriptor("skip the raw engine path") @Parameter(names = "--no-raw", presentValue = "true", absentValue = "false") boolean noRaw,
            String... args) {
        if (help) {
            return usage();
        }
        if (args != null && args.length > 0) {
            throw new ShellError(CMD + ": unexpected argument " + args[0] + " (see " + CMD + " --help)");
        }
        PrintStream err = progressStream();
        BenchOptions options;
        try {
            options = new BenchOptions(list(backend), count, parallel, image, flavor, list(network),
                    outFolder(session, out), Duration.ofSeconds(Math.max(0, wait)), !noRaw,
                    Duration.ofSeconds(Math.max(0, stopTimeout)));
        } catch (IllegalArgumentException e) {
            throw new ShellError(CMD + ": " + e.getMessage(), e);
        }
        BenchRunner runner = new BenchRunner(() -> compute, this::driver, stateDir, scope, dockerHost, err);
        try {
            return runner.run(options);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ShellError(e.getMessage() == null ? CMD + ": interrupted" : e.getMessage(), e);
        } catch (IOException e) {
            throw new ShellError(CMD + ": cannot write the report: " + e.getMessage(), e);
        } catch (BerthException e) {
            throw new ShellError(CMD + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new ShellError(CMD + ": " + e.getMessage(), e);
        }
    }

    private ComputeDriver driver(String name) {
        List<ComputeDriver> ds = drivers;
        if (ds == null) {
            return null;
        }
        for (ComputeDriver d : ds) {
            try {
                if (name.equals(d.name())) {
                    return d;
                }
            } catch (RuntimeException e) {
                // a driver going away while asked
            }
        }
        return null;
    }

    private Path outFolder(CommandSession session, String out) {
        if (out.isBlank()) {
            String stamp = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
            return stateDir.resolve("bench").resolve(stamp);
        }
        Path p = Path.of(out);
        if (!p.isAbsolute()) {
            Path cwd = session == null ? null : session.currentDir();
            p = (cwd == null ? Path.of("").toAbsolutePath() : cwd).resolve(p);
        }
        return p.normalize();
    }

    private static List<String> list(String csv) {
        List<String> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            if (!s.isBlank()) {
                out.add(s.trim());
            }
        }
        return out;
    }

    /** Captured on the command's thread: the workers print from theirs, where Gogo's System.err is elsewhere. */
    private static PrintStream progressStream() {
        Process p = Process.Utils.current();
        return p != null ? p.err() : System.err;
    }

    private static String usage() {
        return String.join("\n", Arrays.asList(
                "nova:bench - benchmark the backends: boot, lifecycle, exec, delete and memory, against the raw engine path",
                "Usage: nova:bench [options]",
                "Options:",
                "  --backend NAMES      backends to measure, comma-separated (default: every backend present)",
                "  -n, --count N        instances per backend (default 20)",
                "  -p, --parallel P     operations in flight at once (default 1)",
                "  --image IMAGE        image id or name (default busybox)",
                "  --flavor FLAVOR      flavor name (default c1.nano)",
                "  --network NAMES      networks to give each instance a VIF on (default: none)",
                "  -o, --out DIR        report folder (default ${berth.state.dir}/bench/<timestamp>)",
                "  --wait SECONDS       wait for the compute manager, backends and image (default 60)",
                "  --stop-timeout S     grace period of a stop, Berth and raw alike (default 10)",
                "  --no-raw             skip the raw engine path (Engine API / lxc-* tools)",
                "  -h, --help           show this help",
                "Instances are named bench-<backend>-<n>; whatever a run leaves (interrupted) is removed by the next."));
    }

    private static String or(String v, String fallback) {
        return v == null || v.isBlank() ? fallback : v;
    }
}
