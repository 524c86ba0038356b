package berth.runtime.internal.bench;

import java.util.ArrayList;
import java.util.List;
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
        Table lat = new Table("Backend", "Path", "Operation", "N", "Failed", "p50_ms", "p90_ms", "Max_ms");
        for (Summary s : r.latency()) {
            lat.row(s.backend(), s.path(), s.operation(), Integer.toString(s.n()), Integer.toString(s.failed()),
                    BenchRunner.fmt(s.p50()), BenchRunner.fmt(s.p90()), BenchRunner.fmt(s.max()));
        }
        Table mem = new Table("Backend", "Instances", "Cgroup_MiB_per_instance", "Supervisor_MiB_per_instance",
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

    /** The shell's box table, kept here because the shell's own is private to its package. */
    static final class Table {
        private final String[] headers;
        private final List<String[]> rows = new ArrayList<>();

        Table(String... headers) {
            this.headers = headers;
        }

        void row(String... cells) {
            rows.add(cells);
        }

        String render() {
            int[] w = new int[headers.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = headers[i].length();
                for (String[] r : rows) {
                    w[i] = Math.max(w[i], r[i].length());
                }
            }
            StringBuilder sb = new StringBuilder();
            rule(sb, w);
            line(sb, w, headers);
            rule(sb, w);
            for (String[] r : rows) {
                line(sb, w, r);
            }
            rule(sb, w);
            sb.setLength(sb.length() - 1);
            return sb.toString();
        }

        private static void rule(StringBuilder sb, int[] w) {
            sb.append('+');
            for (int x : w) {
                sb.append("-".repeat(x + 2)).append('+');
            }
            sb.append('\n');
        }

        private static void line(StringBuilder sb, int[] w, String[] cells) {
            sb.append('|');
            for (int i = 0; i < w.length; i++) {
                sb.append(' ').append(cells[i]).append(" ".repeat(w[i] - cells[i].length())).append(" |");
            }
            sb.append('\n');
        }
    }
}
