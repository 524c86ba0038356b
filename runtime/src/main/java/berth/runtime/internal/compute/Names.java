package berth.runtime.internal.compute;

import berth.driver.api.InvalidInputException;
import java.util.regex.Pattern;

/** Instance-name rules and safe echoing of user input in one-line messages. */
public final class Names {

    /** RFC 1123 host label, as Nova's sanitised hostname: letters, digits, inner hyphens, 1..63. */
    private static final Pattern HOST_LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
    static final Pattern UUID =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    static final Pattern BACKEND = Pattern.compile("[a-z0-9][a-z0-9._-]{0,31}");

    private Names() {
    }

    /**
     * Checks an instance name: 1..63 of {@code [A-Za-z0-9-]}, not starting or ending with a hyphen (it becomes the
     * container's hostname), and not shaped like a uuid (references are resolved uuid first).
     *
     * @param name the name
     * @return the name
     * @throws InvalidInputException saying which rule it breaks
     */
    public static String checkInstanceName(String name) {
        if (name == null || name.isEmpty()) {
            throw new InvalidInputException("instance name must not be empty");
        }
        if (name.length() > 63) {
            throw new InvalidInputException("instance name is " + name.length() + " characters long; at most 63");
        }
        if (!HOST_LABEL.matcher(name).matches()) {
            if (name.startsWith("-") || name.endsWith("-")) {
                throw new InvalidInputException("invalid instance name " + show(name)
                        + ": must not start or end with '-'");
            }
            throw new InvalidInputException("invalid instance name " + show(name)
                    + ": use only letters a-z, digits and '-' (it becomes the hostname)");
        }
        if (UUID.matcher(name).matches()) {
            throw new InvalidInputException("invalid instance name " + show(name) + ": must not look like a uuid");
        }
        return name;
    }

    /**
     * @param s user input
     * @return {@code s} quoted for a one-line message: control and non-ASCII characters escaped, cut at 40
     */
    public static String show(String s) {
        if (s == null) {
            return "(none)";
        }
        StringBuilder b = new StringBuilder("'");
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (n++ >= 40) {
                b.append("...");
                break;
            }
            if (c >= 0x20 && c < 0x7f && c != '\'') {
                b.append(c);
            } else {
                b.append(String.format("\\u%04x", (int) c));
            }
        }
        return b.append('\'').toString();
    }
}
