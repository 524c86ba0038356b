package berth.runtime.internal.deploy;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/** {@code berth:deployments}: what the hot deployer did with each jar of the deploy folder, and why. */
@Component(service = DeployCommands.class)
@GogoCommand(scope = "berth", function = {"deployments"})
public class DeployCommands {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
            .withZone(ZoneOffset.UTC);

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile Deployments deployments;

    @Descriptor("show what the hot deployer did with each jar of the deploy folder (and why a build was refused)")
    public String deployments(
            @Descriptor("show this help") @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("every outcome since start, not only the latest per jar") @Parameter(names = {"-a", "--all"}, presentValue = "true", absentValue = "false") boolean all,
            @Descriptor("scan the deploy folder now and wait for it") @Parameter(names = "--scan", presentValue = "true", absentValue = "false") boolean scan) {
        if (help) {
            return "usage: berth:deployments [--all] [--scan]\n"
                    + "  Jars dropped into the deploy folder are installed beside the running build of the same bundle;\n"
                    + "  the old build is removed only once the new one registers the same Berth services.\n"
                    + "  -a, --all   every outcome since start, not only the latest per jar\n"
                    + "  --scan      scan the deploy folder now and wait for it";
        }
        Deployments d = deployments;
        if (d == null) {
            throw new IllegalStateException("berth:deployments: the deployer is not running");
        }
        if (scan) {
            d.scanNow();
        }
        return render(d.folder().toString(), all ? d.history() : d.current());
    }

    static String render(String folder, List<Deployment> list) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"File", "Bundle", "Version", "State", "Id", "Replaced", "Switch_ms", "When", "Reason"});
        for (Deployment x : list) {
            rows.add(new String[] {x.file(), x.symbolicName(), x.version(), x.state().name(),
                x.bundleId() < 0 ? "-" : Long.toString(x.bundleId()), x.replaced().isEmpty() ? "-" : x.replaced(),
                x.switchMillis() < 0 ? "-" : Long.toString(x.switchMillis()), TIME.format(x.when()), x.reason()});
        }
        int[] w = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder("deploy folder: ").append(folder).append('\n');
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                sb.append(i == r.length - 1 ? r[i] : String.format("%-" + w[i] + "s  ", r[i]));
            }
            sb.append('\n');
        }
        if (list.isEmpty()) {
            sb.append("(nothing deployed)\n");
        }
        return sb.substring(0, sb.length() - 1);
    }
}
