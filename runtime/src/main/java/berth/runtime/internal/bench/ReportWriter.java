package berth.runtime.internal.bench;

import berth.driver.api.io.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Writes a run's figures: {@code samples.csv} (every attempt), {@code summary.csv} (p50/p90/max per operation,
 * backend and path), {@code memory.csv}, and {@code report.html}, one self-contained page (inline CSS and SVG, no
 * script, no external reference) that is also well-formed XML, so it opens in any browser without a network.
 */
final class ReportWriter {

    static final String SAMPLES = "samples.csv";
    static final String SUMMARY = "summary.csv";
    static final String MEMORY = "memory.csv";
    static final String HTML = "report.html";

    private static final String[] COLOURS = {"#1f6fb2", "#8fc1ea", "#c2571a", "#f0b27a", "#2e8b57", "#9ed9b5",
        "#7b3fa0", "#c9a6e0"};

    private ReportWriter() {
    }

    /**
     * @param dir      folder to write into, created if missing
     * @param data     the run's samples and memory figures
     * @param settings what the run was asked to do, shown at the top of the page
     * @return the files written
     * @throws IOException when a file cannot be written
     */
    static List<Path> write(Path dir, BenchData data, Map<String, String> settings) throws IOException {
        Files.createDirectories(dir);
        List<Summary> summaries = data.summaries();
        List<Path> out = new ArrayList<>();
        out.add(put(dir.resolve(SAMPLES), samplesCsv(data.samples())));
        out.add(put(dir.resolve(SUMMARY), summaryCsv(summaries)));
        out.add(put(dir.resolve(MEMORY), memoryCsv(data.memory())));
        out.add(put(dir.resolve(HTML), html(summaries, data.memory(), settings)));
        return out;
    }

    private static Path put(Path file, String text) throws IOException {
        DurableFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    static String samplesCsv(List<BenchData.Sample> samples) {
        StringBuilder sb = new StringBuilder("backend,path,operation,instance,millis,error\r\n");
        for (BenchData.Sample s : samples) {
            row(sb, s.backend(), s.path(), s.operation(), Integer.toString(s.instance()), num(s.millis()),
                    s.error() == null ? "" : s.error());
        }
        return sb.toString();
    }

    static String summaryCsv(List<Summary> summaries) {
        StringBuilder sb = new StringBuilder("backend,path,operation,n,failed,p50_ms,p90_ms,max_ms,mean_ms\r\n");
        for (Summary s : summaries) {
            row(sb, s.backend(), s.path(), s.operation(), Integer.toString(s.n()), Integer.toString(s.failed()),
                    num(s.p50()), num(s.p90()), num(s.max()), num(s.mean()));
        }
        return sb.toString();
    }

    static String memoryCsv(List<MemoryFigures> memory) {
        StringBuilder sb = new StringBuilder("backend,instances,cgroup_bytes,cgroup_mb_per_instance,"
                + "supervisor_pss_bytes,supervisor_mb_per_instance,host_available_delta_bytes,host_mb_per_instance,"
                + "jvm_rss_delta_bytes,jvm_rss_delta_mb\r\n");
        for (MemoryFigures m : memory) {
            row(sb, m.backend(), Integer.toString(m.instances()), Long.toString(m.cgroupBytes()),
                    num(m.cgroupMbPerInstance()), Long.toString(m.supervisorBytes()), num(m.supervisorMbPerInstance()),
                    Long.toString(m.hostAvailableDelta()), num(m.hostMbPerInstance()),
                    Long.toString(m.jvmRssDelta()), num(m.jvmRssDeltaMb()));
        }
        return sb.toString();
    }

    /** RFC 4180: a field holding a comma, quote or line break is quoted, its quotes doubled. */
    private static void row(StringBuilder sb, String... fields) {
        for (int i = 0; i < fields.length; i++) {
            String f = fields[i];
            if (i > 0) {
                sb.append(',');
            }
            if (f.indexOf(',') >= 0 || f.indexOf('"') >= 0 || f.indexOf('\n') >= 0 || f.indexOf('\r') >= 0) {
                sb.append('"').append(f.replace("\"", "\"\"")).append('"');
            } else {
                sb.append(f);
            }
        }
        sb.append("\r\n");
    }

    static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String ms(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v);
    }

    // ---------------------------------------------------------------- HTML

    static String html(List<Summary> summaries, List<MemoryFigures> memory, Map<String, String> settings) {
        StringBuilder h = new StringBuilder(16384);
        h.append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n")
                .append("<meta charset=\"utf-8\"/>\n<title>Berth benchmark</title>\n<style>\n")
                .append("body{font-family:sans-serif;margin:2em;color:#222;max-width:60em}")
                .append("table{border-collapse:collapse;margin:1em 0}")
                .append("td,th{border:1px solid #bbb;padding:.2em .6em;text-align:right}")
                .append("td.l,th.l{text-align:left}th{background:#eee}")
                .append("figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.3em}")
                .append("svg text{font-size:12px;font-family:sans-serif}\n")
                .append("</style>\n</head>\n<body>\n<h1>Berth benchmark</h1>\n");
        h.append("<table>\n");
        settings.forEach((k, v) -> h.append("<tr><th class=\"l\">").append(esc(k)).append("</th><td class=\"l\">")
                .append(esc(v)).append("</td></tr>\n"));
        h.append("</table>\n");
        h.append("<p>Latencies in milliseconds. <em>berth</em>: through the compute service (validation, registry, "
                + "per-instance lock, driver); <em>raw</em>: the engine's own interface with the same settings, in "
                + "the same run. Bars: median (p50); line: up to p90; tick: max.</p>\n");

        h.append("<h2>Latency</h2>\n<table>\n<tr><th class=\"l\">operation</th><th class=\"l\">backend</th>"
                + "<th class=\"l\">path</th><th>n</th><th>failed</th><th>p50</th><th>p90</th><th>max</th>"
                + "<th>mean</th></tr>\n");
        for (Summary s : summaries) {
            h.append("<tr><td class=\"l\">").append(esc(s.operation())).append("</td><td class=\"l\">")
                    .append(esc(s.backend())).append("</td><td class=\"l\">").append(esc(s.path()))
                    .append("</td><td>").append(s.n()).append("</td><td>").append(s.failed()).append("</td><td>")
                    .append(ms(s.p50())).append("</td><td>").append(ms(s.p90())).append("</td><td>")
                    .append(ms(s.max())).append("</td><td>").append(ms(s.mean())).append("</td></tr>\n");
        }
        h.append("</table>\n");

        Map<String, String> colour = new LinkedHashMap<>();
        for (Summary s : summaries) {
            colour.computeIfAbsent(series(s), k -> COLOURS[colour.size() % COLOURS.length]);
        }
        Set<String> operations = new LinkedHashSet<>();
        summaries.forEach(s -> operations.add(s.operation()));
        for (String op : operations) {
            List<Summary> rows = summaries.stream().filter(s -> s.operation().equals(op)).toList();
            h.append("<figure id=\"op-").append(esc(op)).append("\">\n<figcaption>").append(esc(op))
                    .append("</figcaption>\n");
            chart(h, op, rows, colour);
            h.append("</figure>\n");
        }

        h.append("<h2>Memory</h2>\n<p>Measured with every bench instance of the backend running, before deletion. "
                + "cgroup: sum of the instances' cgroup memory use. supervisor: proportional set size of the process "
                + "holding each container from outside (containerd-shim for Docker, the lxc monitor for LXC). host: fall of "
                + "MemAvailable since before the first boot (everything else on the host moves it too). JVM: "
                + "growth of the runtime's resident set.</p>\n<table>\n<tr>"
                + "<th class=\"l\">backend</th><th>instances</th><th>cgroup MiB / instance</th>"
                + "<th>supervisor MiB / instance</th>"
                + "<th>host MiB / instance</th><th>JVM RSS delta MiB</th></tr>\n");
        for (MemoryFigures m : memory) {
            h.append("<tr><td class=\"l\">").append(esc(m.backend())).append("</td><td>").append(m.instances())
                    .append("</td><td>").append(mb(m.cgroupMbPerInstance())).append("</td><td>")
                    .append(mb(m.supervisorMbPerInstance())).append("</td><td>")
                    .append(mb(m.hostMbPerInstance())).append("</td><td>").append(mb(m.jvmRssDeltaMb()))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
        if (!memory.isEmpty()) {
            h.append("<figure id=\"memory\">\n<figcaption>memory per instance (MiB)</figcaption>\n");
            memoryChart(h, memory);
            h.append("</figure>\n");
        }
        h.append("</body>\n</html>\n");
        return h.toString();
    }

    private static String series(Summary s) {
        return s.backend() + " " + s.path();
    }

    private static final int LABEL_W = 110;
    private static final int PLOT_W = 420;
    private static final int ROW_H = 26;

    private static void chart(StringBuilder h, String op, List<Summary> rows, Map<String, String> colour) {
        double top = rows.stream().mapToDouble(Summary::max).filter(v -> !Double.isNaN(v)).max().orElse(0);
        double scale = niceCeiling(top);
        int height = rows.size() * ROW_H + 30;
        int width = LABEL_W + PLOT_W + 110;
        h.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width).append("\" height=\"")
                .append(height).append("\" viewBox=\"0 0 ").append(width).append(' ').append(height)
                .append("\" role=\"img\" aria-label=\"").append(esc(op)).append(" latency in ms\">\n");
        axis(h, scale, rows.size() * ROW_H, "ms");
        int y = 0;
        for (Summary s : rows) {
            String c = colour.get(series(s));
            int mid = y + ROW_H / 2;
            h.append("<text x=\"").append(LABEL_W - 6).append("\" y=\"").append(mid + 4)
                    .append("\" text-anchor=\"end\">").append(esc(series(s))).append("</text>\n");
            if (!Double.isNaN(s.p50())) {
                double x50 = x(s.p50(), scale);
                double x90 = x(s.p90(), scale);
                double xmax = x(s.max(), scale);
                h.append(String.format(Locale.ROOT,
                        "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>p50 %s ms</title></rect>%n",
                        LABEL_W, y + 5, Math.max(1, x50 - LABEL_W), ROW_H - 10, c, ms(s.p50())));
                h.append(String.format(Locale.ROOT,
                        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" stroke-width=\"2\"/>%n",
                        x50, mid, x90, mid));
                h.append(String.format(Locale.ROOT,
                        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" stroke-width=\"2\"/>%n",
                        xmax, y + 6, xmax, y + ROW_H - 6));
                h.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%s / %s / %s</text>%n",
                        Math.max(xmax, x90) + 6, mid + 4, ms(s.p50()), ms(s.p90()), ms(s.max())));
            } else {
                h.append("<text x=\"").append(LABEL_W + 4).append("\" y=\"").append(mid + 4)
                        .append("\">no successful sample</text>\n");
            }
            y += ROW_H;
        }
        h.append("</svg>\n");
    }

    private static void memoryChart(StringBuilder h, List<MemoryFigures> memory) {
        List<String[]> bars = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        for (MemoryFigures m : memory) {
            bars.add(new String[] {m.backend() + " cgroup", COLOURS[0]});
            values.add(m.cgroupMbPerInstance());
            bars.add(new String[] {m.backend() + " supervisor", COLOURS[1]});
            values.add(m.supervisorMbPerInstance());
            bars.add(new String[] {m.backend() + " host", COLOURS[2]});
            values.add(m.hostMbPerInstance());
        }
        double top = values.stream().mapToDouble(Double::doubleValue).filter(v -> !Double.isNaN(v))
                .map(v -> Math.max(0, v)).max().orElse(0);
        double scale = niceCeiling(top);
        int height = bars.size() * ROW_H + 30;
        int width = LABEL_W + PLOT_W + 110;
        h.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width).append("\" height=\"")
                .append(height).append("\" viewBox=\"0 0 ").append(width).append(' ').append(height)
                .append("\" role=\"img\" aria-label=\"memory per instance in MiB\">\n");
        axis(h, scale, bars.size() * ROW_H, "MiB");
        int y = 0;
        for (int i = 0; i < bars.size(); i++) {
            double v = values.get(i);
            int mid = y + ROW_H / 2;
            h.append("<text x=\"").append(LABEL_W - 6).append("\" y=\"").append(mid + 4)
                    .append("\" text-anchor=\"end\">").append(esc(bars.get(i)[0])).append("</text>\n");
            if (!Double.isNaN(v)) {
                double xv = x(Math.max(0, v), scale);
                h.append(String.format(Locale.ROOT,
                        "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>%n", LABEL_W, y + 5,
                        Math.max(1, xv - LABEL_W), ROW_H - 10, bars.get(i)[1]));
                h.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%s</text>%n", xv + 6, mid + 4,
                        mb(v)));
            }
            y += ROW_H;
        }
        h.append("</svg>\n");
    }

    private static void axis(StringBuilder h, double scale, int plotHeight, String unit) {
        for (int i = 0; i <= 4; i++) {
            double v = scale * i / 4;
            double xv = x(v, scale);
            h.append(String.format(Locale.ROOT,
                    "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>%n", xv, xv, plotHeight));
            h.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s%s</text>%n",
                    xv, plotHeight + 16, ms(v), i == 4 ? " " + unit : ""));
        }
    }

    private static double x(double v, double scale) {
        return LABEL_W + (scale <= 0 ? 0 : Math.min(1.0, v / scale) * PLOT_W);
    }

    /** 1, 2 or 5 times a power of ten, at least {@code v}, so the axis has round ticks. */
    static double niceCeiling(double v) {
        if (!(v > 0)) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }

    private static String mb(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> {
                    if (c < 0x20 && c != '\n' && c != '\t') {
                        b.append(' ');
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
