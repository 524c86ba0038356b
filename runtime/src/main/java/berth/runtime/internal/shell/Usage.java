package berth.runtime.internal.shell;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;

/**
 * Builds a command's {@code --help} text from the same {@link Descriptor} and {@link Parameter} annotations
 * Gogo reads, so the help cannot drift from the options the command really takes.
 */
final class Usage {
    private Usage() {
    }

    /**
     * @param type     the command class
     * @param scope    Gogo scope
     * @param function function name (the Java method may carry a leading underscore)
     * @param synopsis positional arguments, for example {@code NAME}
     * @param extra    lines about options parsed by hand (repeatable or after {@code --})
     * @return the help text
     */
    static String of(Class<?> type, String scope, String function, String synopsis, String... extra) {
        Method method = find(type, function);
        StringBuilder sb = new StringBuilder();
        Descriptor d = method == null ? null : method.getAnnotation(Descriptor.class);
        sb.append(scope).append(':').append(function);
        if (d != null) {
            sb.append(" - ").append(d.value());
        }
        sb.append('\n');
        sb.append("Usage: ").append(scope).append(':').append(function).append(" [options]");
        if (!synopsis.isEmpty()) {
            sb.append(' ').append(synopsis);
        }
        sb.append('\n');
        List<String[]> options = new ArrayList<>();
        if (method != null) {
            Annotation[][] params = method.getParameterAnnotations();
            for (Annotation[] anns : params) {
                Parameter p = null;
                Descriptor pd = null;
                for (Annotation a : anns) {
                    if (a instanceof Parameter) {
                        p = (Parameter) a;
                    } else if (a instanceof Descriptor) {
                        pd = (Descriptor) a;
                    }
                }
                if (p == null) {
                    continue;
                }
                String names = String.join(", ", p.names());
                if (Parameter.UNSPECIFIED.equals(p.presentValue())) {
                    String longest = p.names()[p.names().length - 1].replaceFirst("^-+", "");
                    names += " " + longest.toUpperCase(Locale.ROOT).replace('-', '_');
                }
                String text = pd == null ? "" : pd.value();
                if (!p.absentValue().isEmpty() && Parameter.UNSPECIFIED.equals(p.presentValue())) {
                    text += " (default " + p.absentValue() + ")";
                }
                options.add(new String[] {names, text});
            }
        }
        for (int i = 0; i + 1 < extra.length; i += 2) {
            options.add(new String[] {extra[i], extra[i + 1]});
        }
        if (!options.isEmpty()) {
            int w = options.stream().mapToInt(o -> o[0].length()).max().orElse(0);
            sb.append("Options:\n");
            for (String[] o : options) {
                sb.append("  ").append(o[0]).append(" ".repeat(w - o[0].length() + 2)).append(o[1]).append('\n');
            }
        }
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    static String description(Class<?> type, String function) {
        Method m = find(type, function);
        Descriptor d = m == null ? null : m.getAnnotation(Descriptor.class);
        return d == null ? "" : d.value();
    }

    private static Method find(Class<?> type, String function) {
        for (Method m : type.getMethods()) {
            if (m.getName().equals(function) || m.getName().equals("_" + function)) {
                return m;
            }
        }
        return null;
    }
}
