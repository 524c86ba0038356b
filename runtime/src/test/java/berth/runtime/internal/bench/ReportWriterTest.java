package berth.runtime.internal.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class ReportWriterTest {

    @TempDir
    Path dir;

    private static BenchData sample() {
        BenchData d = new BenchData();
        for (int i = 1; i <= 10; i++) {
            d.ok("docker", "berth", "boot", i, 300 + i);
            d.ok("docker", "raw", "boot", i, 250 + i);
            d.ok("lxc", "berth", "boot", i, 100 + i);
            d.ok("lxc", "berth", "exec", i, 20 + i);
        }
        // hostile text: CSV separators, quotes, line breaks and markup must neither break a row nor the page
        d.failed("lxc", "berth", "stop", 1, "engine said \"no\", then\nleft <b>&amp;</b>");
        d.ok("lxc", "berth", "stop", 2, 30);
        d.ok("<svg>", "berth", "a&b", 1, 1);
        d.memory(new MemoryFigures("docker", 10, 10L << 20, 20L << 20, 40L << 20, 3L << 20));
        d.memory(new MemoryFigures("lxc", 10, -1, -1, -(1L << 20), 0));
        return d;
    }

    @Test
    void percentilesAreNearestRankOfMeasuredValues() {
        List<Double> s = new ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            s.add((double) i);
        }
        assertEquals(10.0, Summary.percentile(s, 50));
        assertEquals(18.0, Summary.percentile(s, 90));
        assertEquals(20.0, Summary.percentile(s, 100));
        assertEquals(7.0, Summary.percentile(List.of(7.0), 90));
        assertTrue(Double.isNaN(Summary.percentile(List.of(), 50)));
        Summary one = Summary.of("b", "p", "o", List.of(3.0, 1.0, 2.0), 2);
        assertEquals(2.0, one.p50());
        assertEquals(3.0, one.p90());
        assertEquals(3.0, one.max());
        assertEquals(2.0, one.mean());
        assertEquals(3, one.n());
        assertEquals(2, one.failed());
    }

    @Test
    void summariesCountFailuresApartFromSamples() {
        List<Summary> all = sample().summaries();
        Summary stop = all.stream().filter(s -> s.backend().equals("lxc") && s.operation().equals("stop"))
                .findFirst().orElseThrow();
        assertEquals(1, stop.n());
        assertEquals(1, stop.failed());
        assertEquals(30.0, stop.p50());
        assertEquals("docker", all.get(0).backend(), "order of first appearance");
    }

    @Test
    void csvFilesAreRectangularAndNumeric() throws Exception {
        ReportWriter.write(dir, sample(), Map.of("count", "10"));
        List<List<String>> summary = csv(dir.resolve(ReportWriter.SUMMARY));
        assertEquals(List.of("backend", "path", "operation", "n", "failed", "p50_ms", "p90_ms", "max_ms", "mean_ms"),
                summary.get(0));
        assertEquals(6, summary.size() - 1);
        for (List<String> row : summary.subList(1, summary.size())) {
            assertEquals(9, row.size(), row.toString());
            Integer.parseInt(row.get(3));
            Integer.parseInt(row.get(4));
            for (int i = 5; i < 9; i++) {
                Double.parseDouble(row.get(i));
            }
        }
        List<String> dockerBoot = summary.get(1);
        assertEquals(List.of("docker", "berth", "boot", "10", "0", "305.000", "309.000", "310.000", "305.500"),
                dockerBoot);

        List<List<String>> samples = csv(dir.resolve(ReportWriter.SAMPLES));
        assertEquals(List.of("backend", "path", "operation", "instance", "millis", "error"), samples.get(0));
        assertEquals(43, samples.size() - 1);
        List<String> failed = samples.stream().filter(r -> r.get(2).equals("stop") && !r.get(5).isEmpty())
                .findFirst().orElseThrow();
        assertEquals("engine said \"no\", then\nleft <b>&amp;</b>", failed.get(5), "quoted field survives");
        assertEquals("", failed.get(4));
        samples.forEach(r -> assertEquals(6, r.size(), r.toString()));

        List<List<String>> memory = csv(dir.resolve(ReportWriter.MEMORY));
        assertEquals(3, memory.size());
        assertEquals("docker", memory.get(1).get(0));
        assertEquals("1.000", memory.get(1).get(3), "10 MiB over 10 instances");
        assertEquals(10, memory.get(0).size());
        assertEquals("2.000", memory.get(1).get(5), "supervisor");
        assertEquals("4.000", memory.get(1).get(7), "host");
        assertEquals("", memory.get(2).get(3), "unreadable cgroup is empty, not a number");
    }

    @Test
    void htmlIsWellFormedAndHasOneChartPerOperation() throws Exception {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("image", "busy<box> & \"co\"");
        ReportWriter.write(dir, sample(), settings);
        String html = Files.readString(dir.resolve(ReportWriter.HTML));
        assertFalse(html.contains("http://") && html.replace("http://www.w3.org/", "").contains("http://"),
                "no external reference");
        assertFalse(html.contains("<script"), "no script");
        Document doc = parse(html);
        NodeList figures = doc.getElementsByTagNameNS("http://www.w3.org/1999/xhtml", "figure");
        Set<String> charted = new HashSet<>();
        for (int i = 0; i < figures.getLength(); i++) {
            Element f = (Element) figures.item(i);
            String id = f.getAttribute("id");
            NodeList svgs = f.getElementsByTagNameNS("http://www.w3.org/2000/svg", "svg");
            assertEquals(1, svgs.getLength(), "one SVG in " + id);
            if (id.startsWith("op-")) {
                charted.add(id.substring(3));
                Element svg = (Element) svgs.item(0);
                assertTrue(svg.getElementsByTagNameNS("http://www.w3.org/2000/svg", "rect").getLength() >= 1,
                        "a bar in " + id);
            }
        }
        assertEquals(Set.of("boot", "exec", "stop", "a&b"), charted);
        assertEquals(1, doc.getElementsByTagNameNS("http://www.w3.org/2000/svg", "svg").getLength()
                - charted.size(), "plus the memory chart");
        assertTrue(doc.getDocumentElement().getTextContent().contains("busy<box> & \"co\""));
        assertTrue(doc.getDocumentElement().getTextContent().contains("<svg> berth"), "escaped series name");
    }

    @Test
    void niceCeilingGivesRoundAxes() {
        assertEquals(1.0, ReportWriter.niceCeiling(0));
        assertEquals(500.0, ReportWriter.niceCeiling(312));
        assertEquals(200.0, ReportWriter.niceCeiling(200));
        assertEquals(1000.0, ReportWriter.niceCeiling(501));
        assertEquals(0.05, ReportWriter.niceCeiling(0.042), 1e-12);
    }

    @Test
    void renderedTableHasARowPerSummary() {
        BenchData d = sample();
        String text = BenchFormats.render(new BenchReport(dir, List.of(), d.summaries(), d.memory()));
        assertTrue(text.contains("| docker  | raw   | boot"), text);
        assertTrue(text.endsWith("report: " + dir.resolve(ReportWriter.HTML)), text);
        assertNotNull(new BenchFormats().format(new BenchReport(dir, List.of(), List.of(), List.of()), 0, null));
    }

    static Document parse(String xml) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    /** A strict RFC 4180 reader: fails on a stray quote or a row that does not end in CRLF. */
    static List<List<String>> csv(Path file) throws Exception {
        String s = Files.readString(file);
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '"' && field.length() == 0) {
                i++;
                while (true) {
                    if (i >= s.length()) {
                        throw new AssertionError("unterminated quoted field in " + file);
                    }
                    char q = s.charAt(i++);
                    if (q == '"') {
                        if (i < s.length() && s.charAt(i) == '"') {
                            field.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        field.append(q);
                    }
                }
                char next = i < s.length() ? s.charAt(i) : '\r';
                if (next != ',' && next != '\r') {
                    throw new AssertionError("text after a closing quote in " + file);
                }
            } else if (c == ',') {
                row.add(field.toString());
                field.setLength(0);
                i++;
            } else if (c == '\r') {
                if (i + 1 >= s.length() || s.charAt(i + 1) != '\n') {
                    throw new AssertionError("bare CR in " + file);
                }
                row.add(field.toString());
                field.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
                i += 2;
            } else if (c == '"' || c == '\n') {
                throw new AssertionError("stray " + (c == '"' ? "quote" : "LF") + " in " + file + " at " + i);
            } else {
                field.append(c);
                i++;
            }
        }
        if (!row.isEmpty() || field.length() > 0) {
            throw new AssertionError("last row of " + file + " does not end in CRLF");
        }
        return rows;
    }
}
