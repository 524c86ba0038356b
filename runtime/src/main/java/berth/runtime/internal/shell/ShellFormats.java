package berth.runtime.internal.shell;

import berth.driver.api.BackendStatus;
import berth.driver.api.Diagnostics;
import berth.driver.api.ExecResult;
import berth.driver.api.Flavor;
import berth.driver.api.HostResources;
import berth.driver.api.ImageInfo;
import berth.driver.api.Instance;
import berth.driver.api.Network;
import berth.driver.api.Vif;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.felix.service.command.Converter;
import org.osgi.service.component.annotations.Component;

/**
 * Prints what the Berth commands return: lists as aligned tables, single records as property tables. Gogo asks
 * every registered converter before its own formatting, in the interactive shell and in the control channel.
 */
@Component(service = Converter.class)
public class ShellFormats implements Converter {

    @Override
    public Object convert(Class<?> desiredType, Object in) {
        return null;
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (target instanceof Listed<?> listed) {
            return level == INSPECT ? table(listed.type(), listed) : null;
        }
        if (target instanceof Collection<?> c && !c.isEmpty() && level == INSPECT) {
            Class<?> type = c.iterator().next().getClass();
            if (known(type) && c.stream().allMatch(type::isInstance)) {
                return table(type, c);
            }
            return null;
        }
        if (level == INSPECT) {
            return detail(target);
        }
        if (target instanceof Instance i) {
            return i.name() + " (" + i.uuid() + ")";
        }
        if (target instanceof ImageInfo i) {
            return (i.name() == null ? "" : i.name() + " ") + "(" + i.id() + ")";
        }
        return null;
    }

    private static boolean known(Class<?> type) {
        return type == Instance.class || type == Flavor.class || type == HostResources.class
                || type == BackendStatus.class || type == ImageInfo.class || type == Network.class
                || type == CommandInfo.class;
    }

    static String table(Class<?> type, Collection<?> items) {
        TableFormat t;
        if (type == Instance.class) {
            t = new TableFormat("ID", "Name", "Status", "Task State", "Power State", "Backend", "Networks");
            for (Object o : items) {
                Instance i = (Instance) o;
                t.row(i.uuid(), i.name(), status(i), i.taskState() == null ? "-" : i.taskState().label(),
                        i.powerState().name(), i.backend(), networks(i.vifs()));
            }
        } else if (type == Flavor.class) {
            t = new TableFormat("Name", "Memory_MB", "VCPUs", "Pids_Limit");
            for (Object o : items) {
                Flavor f = (Flavor) o;
                t.row(f.name(), f.memoryMb(), f.vcpus(), f.pidsLimit());
            }
        } else if (type == HostResources.class) {
            t = new TableFormat("Backend", "CPUs", "Memory_MB", "Disk_GB", "Disk_Free_GB", "Instances", "VCPUs_Used",
                    "Memory_Used_MB", "Details");
            for (Object o : items) {
                HostResources h = (HostResources) o;
                t.row(h.backend(), h.cpus(), h.memoryBytes() >> 20, h.diskBytes() >> 30, h.diskFreeBytes() >> 30,
                        h.instances(), h.vcpusUsed(), h.memoryUsedBytes() >> 20, pairs(h.extra()));
            }
        } else if (type == BackendStatus.class) {
            t = new TableFormat("Backend", "Present", "Default", "Ranking", "Engine", "Bundle", "Instances", "Health",
                    "Detail");
            for (Object o : items) {
                BackendStatus b = (BackendStatus) o;
                t.row(b.name(), b.present() ? "yes" : "no", b.preferred() ? "*" : "", b.ranking(), b.engineVersion(),
                        b.bundleVersion(), b.instances(), b.health(), b.detail());
            }
        } else if (type == ImageInfo.class) {
            t = new TableFormat("ID", "Name", "Source", "Container", "Disk", "Size", "Status");
            for (Object o : items) {
                ImageInfo i = (ImageInfo) o;
                t.row(i.id(), i.name(), i.source(), i.containerFormat().wireName(), i.diskFormat().wireName(),
                        i.size() < 0 ? "-" : Calls.mb(i.size()), i.status());
            }
        } else if (type == Network.class) {
            t = new TableFormat("Name", "Bridge", "CIDR", "Gateway", "MTU", "Used", "Free");
            for (Object o : items) {
                Network n = (Network) o;
                t.row(n.name(), n.bridge(), n.cidr(), n.gateway(), n.mtu(), n.used(), n.free());
            }
        } else if (type == CommandInfo.class) {
            t = new TableFormat("Command", "Description");
            for (Object o : items) {
                CommandInfo c = (CommandInfo) o;
                t.row(c.command(), c.description());
            }
        } else {
            return null;
        }
        return t.render();
    }

    static String detail(Object target) {
        TableFormat t = new TableFormat("Property", "Value");
        if (target instanceof Instance i) {
            t.row("id", i.uuid()).row("name", i.name()).row("status", status(i))
                    .row("task_state", i.taskState() == null ? "-" : i.taskState().label())
                    .row("power_state", i.powerState().name() + " (" + i.powerState().code() + ")")
                    .row("backend", i.backend()).row("flavor", i.flavor())
                    .row("image", i.imageId() + (i.imageSource() == null ? "" : " (" + i.imageSource() + ")"));
            int n = 0;
            for (Vif v : i.vifs()) {
                t.row("vif" + n++, v.device() + " " + v.network() + " " + v.cidr() + " mac " + v.mac() + " id "
                        + v.id());
            }
            for (Map.Entry<String, String> e : new TreeMap<>(i.metadata()).entrySet()) {
                t.row("meta " + e.getKey(), e.getValue());
            }
            t.row("fault", i.fault()).row("created", i.created()).row("updated", i.updated());
        } else if (target instanceof ImageInfo i) {
            t.row("id", i.id()).row("name", i.name()).row("source", i.source())
                    .row("container_format", i.containerFormat().wireName())
                    .row("disk_format", i.diskFormat().wireName())
                    .row("size", i.size() < 0 ? "-" : i.size() + " (" + Calls.mb(i.size()) + ")")
                    .row("checksum", i.checksum()).row("os_hash_algo", i.hashAlgo())
                    .row("os_hash_value", i.hashValue()).row("status", i.status())
                    .row("tags", String.join(", ", i.tags())).row("created", i.created());
            for (Map.Entry<String, String> e : new TreeMap<>(i.properties()).entrySet()) {
                t.row(e.getKey(), e.getValue());
            }
        } else if (target instanceof Network n) {
            t.row("name", n.name()).row("bridge", n.bridge()).row("cidr", n.cidr()).row("gateway", n.gateway())
                    .row("dns", String.join(", ", n.dns())).row("mtu", n.mtu()).row("used", n.used())
                    .row("free", n.free());
        } else if (target instanceof Diagnostics d) {
            t.row("cpu_time_s", String.format(java.util.Locale.ROOT, "%.3f", d.cpuTimeNanos() / 1e9))
                    .row("memory", Calls.mb(d.memoryBytes()))
                    .row("memory_limit", d.memoryLimitBytes() == 0 ? "none" : Calls.mb(d.memoryLimitBytes()))
                    .row("pids", d.pids()).row("pids_limit", d.pidsLimit() == 0 ? "none" : d.pidsLimit());
            for (Map.Entry<String, String> e : new TreeMap<>(d.extra()).entrySet()) {
                t.row(e.getKey(), e.getValue());
            }
        } else if (target instanceof ExecResult r) {
            StringBuilder sb = new StringBuilder(r.stdout());
            sb.append(r.stderr());
            if (r.exitCode() != 0) {
                if (sb.length() > 0 && sb.charAt(sb.length() - 1) != '\n') {
                    sb.append('\n');
                }
                sb.append("exit code ").append(r.exitCode());
            } else if (sb.length() > 0 && sb.charAt(sb.length() - 1) == '\n') {
                sb.setLength(sb.length() - 1);
            }
            return sb.toString();
        } else if (target instanceof Flavor || target instanceof BackendStatus
                || target instanceof HostResources || target instanceof CommandInfo) {
            return table(target.getClass(), List.of(target));
        } else {
            return null;
        }
        return t.render();
    }

    private static String status(Instance i) {
        return i.vmState().name();
    }

    private static String networks(List<Vif> vifs) {
        List<String> parts = new ArrayList<>();
        for (Vif v : vifs) {
            parts.add(v.network() + "=" + v.address());
        }
        return String.join("; ", parts);
    }

    private static String pairs(Map<String, String> m) {
        return new TreeMap<>(m).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(", "));
    }
}
