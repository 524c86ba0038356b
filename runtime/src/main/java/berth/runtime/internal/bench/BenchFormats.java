package berth.runtime.internal.bench;

import berth.runtime.internal.shell.TableFormat;

import java.util.Locale;
import org.apache.felix.service.command.Converter;
import org.osgi.service.component.annotations.Component;

/** Prints a {@link BenchReport} as the shell's other tables: latency per operation, memory, the report's path. */
@Component(service = Converter.class)
public class BenchFormats implements Converter {

    @Override
    public Object convert(Class<?> desiredType, Object in) {
        return null;
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (!(target instanceof BenchReport r)) {
            return null;
        }
        if (level != INSPECT) {
            return "bench report " + r.folder();
        }
        return render(r);
    }

    static String render(BenchReport r) {
        TableFormat lat = new TableFormat("Backend", "Path", "Operation", "N", "Failed", "p50_ms", "p90_ms", "Max_ms");
        for (Summary s : r.latency()) {
            lat.row(s.backend(), s.path(), s.operation(), Integer.toString(s.n()), Integer.toString(s.failed()),
                    BenchRunner.fmt(s.p50()), BenchRunner.fmt(s.p90()), BenchRunner.fmt(s.max()));
        }
        TableFormat mem = new TableFormat("Backend", "Instances", "Cgroup_MiB_per_instance", "Supervisor_MiB_per_instance",
                "Host_MiB_per_instance", "JVM_RSS_delta_MiB");
        for (MemoryFigures m : r.memory()) {
            mem.row(m.backend(), Integer.toString(m.instances()), two(m.cgroupMbPerInstance()),
                    two(m.supervisorMbPerInstance()), two(m.hostMbPerInstance()), two(m.jvmRssDeltaMb()));
        }
        return lat.render() + "\n" + mem.render() + "\nreport: " + r.folder().resolve(ReportWriter.HTML);
    }

    private static String two(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }
}
