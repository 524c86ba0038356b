package berth.runtime.internal.shell;

import java.util.ArrayList;
import java.util.List;

/**
 * Box tables as the nova CLI prints them; cells are single lines, columns padded to their widest cell. Public
 * (inside this private package) so that other command packages of the runtime print the same tables.
 */
public final class TableFormat {
    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    public TableFormat(String... headers) {
        this.headers = List.of(headers);
    }

    public TableFormat row(Object... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException("row has " + cells.length + " cells, table " + headers.size());
        }
        List<String> row = new ArrayList<>(cells.length);
        for (Object c : cells) {
            row.add(c == null ? "-" : oneLine(c.toString()));
        }
        rows.add(row);
        return this;
    }

    private static String oneLine(String s) {
        return s.replace("\r", "").replace('\n', ' ').replace('\t', ' ');
    }

    public String render() {
        int[] width = new int[headers.size()];
        for (int i = 0; i < width.length; i++) {
            width[i] = headers.get(i).length();
            for (List<String> r : rows) {
                width[i] = Math.max(width[i], r.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        rule(sb, width);
        line(sb, width, headers);
        rule(sb, width);
        for (List<String> r : rows) {
            line(sb, width, r);
        }
        rule(sb, width);
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    private static void rule(StringBuilder sb, int[] width) {
        sb.append('+');
        for (int w : width) {
            sb.append("-".repeat(w + 2)).append('+');
        }
        sb.append('\n');
    }

    private static void line(StringBuilder sb, int[] width, List<String> cells) {
        sb.append('|');
        for (int i = 0; i < width.length; i++) {
            String c = cells.get(i);
            sb.append(' ').append(c).append(" ".repeat(width[i] - c.length())).append(" |");
        }
        sb.append('\n');
    }
}
