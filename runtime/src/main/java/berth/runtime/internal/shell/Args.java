package berth.runtime.internal.shell;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What Gogo's {@code @Parameter} handling leaves over: it takes the first occurrence of each option, so the
 * second {@code --nic} and later ones arrive here with the positional arguments.
 */
final class Args {
    final List<String> positional = new ArrayList<>();
    final Map<String, List<String>> repeated = new LinkedHashMap<>();
    /** Everything after a {@code --}, untouched. */
    final List<String> rest = new ArrayList<>();
    boolean dashDash;

    static Args parse(String command, String[] args, Set<String> repeatable, Map<String, String> first) {
        Args a = new Args();
        first.forEach((k, v) -> {
            if (v != null && !v.isEmpty()) {
                a.repeated.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
            }
        });
        String[] in = args == null ? new String[0] : args;
        for (int i = 0; i < in.length; i++) {
            String s = in[i];
            if (a.dashDash) {
                a.rest.add(s);
            } else if ("--".equals(s)) {
                a.dashDash = true;
            } else if (repeatable.contains(s)) {
                if (i + 1 >= in.length) {
                    throw new ShellError(command + ": option " + s + " needs a value");
                }
                a.repeated.computeIfAbsent(s, x -> new ArrayList<>()).add(in[++i]);
            } else if (s.startsWith("-") && s.length() > 1 && !isNumber(s)) {
                throw new ShellError(command + ": unknown option " + s + " (see " + command + " --help)");
            } else {
                a.positional.add(s);
            }
        }
        return a;
    }

    private static boolean isNumber(String s) {
        return s.matches("-\\d+");
    }

    List<String> all(String option) {
        return repeated.getOrDefault(option, List.of());
    }

    String one(String command, String what) {
        if (positional.size() != 1) {
            throw new ShellError(command + ": expected " + what + ", got "
                    + (positional.isEmpty() ? "nothing" : String.join(" ", positional))
                    + " (see " + command + " --help)");
        }
        return positional.get(0);
    }

    List<String> exactly(String command, int n, String what) {
        if (positional.size() != n) {
            throw new ShellError(command + ": expected " + what + " (see " + command + " --help)");
        }
        return positional;
    }

    static Map<String, String> keyValues(String command, List<String> pairs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String p : pairs) {
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw new ShellError(command + ": expected KEY=VALUE, got '" + p + "'");
            }
            m.put(p.substring(0, eq), p.substring(eq + 1));
        }
        return m;
    }
}
