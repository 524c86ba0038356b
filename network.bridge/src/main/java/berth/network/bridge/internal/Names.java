package berth.network.bridge.internal;

import berth.driver.api.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Every name that reaches an {@code ip} or {@code iptables} argument vector or batch line passes through here, so
 * nothing with spaces, quotes, slashes, {@code ;} or {@code #} ever gets that far.
 */
final class Names {

    /** Prefix of every host-end veth Berth creates; the rest is 11 hex digits. */
    static final String HOST_END_PREFIX = "bv";
    static final Pattern HOST_END = Pattern.compile("bv[0-9a-f]{11}");

    private static final Pattern NETWORK = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}");
    private static final Pattern INTERFACE = Pattern.compile("[a-zA-Z][a-zA-Z0-9_-]{0,14}");
    private static final Pattern SCOPE = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}");
    private static final Pattern INSTANCE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9-]{0,63}");
    private static final Pattern VIF_ID = Pattern.compile("[A-Za-z0-9-]{1,64}");

    private Names() {
    }

    static String network(String name) {
        if (name == null || !NETWORK.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw new InvalidInputException("invalid network name '" + printable(name)
                    + "' (1-32 of letters, digits, '_', '.', '-', starting with a letter or digit)");
        }
        return name;
    }

    static String bridge(String name) {
        if (name == null || !INTERFACE.matcher(name).matches()) {
            throw new InvalidInputException("invalid bridge name '" + printable(name)
                    + "' (1-15 of letters, digits, '_', '-', starting with a letter)");
        }
        if (name.startsWith(HOST_END_PREFIX) || name.equals("lo") || name.startsWith("eth")
                || name.startsWith("veth") || name.equals("docker0")) {
            throw new InvalidInputException("bridge name '" + name + "' is reserved");
        }
        return name;
    }

    static String device(String name) {
        if (name == null || !INTERFACE.matcher(name).matches() || name.equals("lo")) {
            throw new InvalidInputException("invalid device name '" + printable(name)
                    + "' (1-15 of letters, digits, '_', '-', starting with a letter; not lo)");
        }
        return name;
    }

    static String scope(String scope) {
        if (scope == null || !SCOPE.matcher(scope).matches()) {
            throw new InvalidInputException("invalid scope '" + printable(scope) + "'");
        }
        return scope;
    }

    static String instance(String id) {
        if (id == null || !INSTANCE.matcher(id).matches()) {
            throw new InvalidInputException("invalid instance id '" + printable(id) + "'");
        }
        return id;
    }

    static String vifId(String id) {
        if (id == null || !VIF_ID.matcher(id).matches()) {
            throw new InvalidInputException("invalid VIF id '" + printable(id) + "'");
        }
        return id;
    }

    /**
     * The host end of a VIF: {@code bv} + 11 hex digits, within the kernel's 15-character limit. A UUID-like id gives
     * its own first digits (so an operator can match them by eye); any other id gives a SHA-256 prefix.
     */
    static String hostEnd(String vifId) {
        String hex = vifId.replace("-", "").toLowerCase(Locale.ROOT);
        if (hex.length() < 11 || !hex.matches("[0-9a-f]+")) {
            try {
                hex = HexFormat.of().formatHex(
                        MessageDigest.getInstance("SHA-256").digest(vifId.getBytes(StandardCharsets.UTF_8)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        return HOST_END_PREFIX + hex.substring(0, 11);
    }

    /** Interface alias written on every host end: tells our veths from other scopes' and foreign ones. */
    static String alias(String scope, String vifId) {
        return "berth:" + scope + ":" + vifId;
    }

    private static String printable(String s) {
        if (s == null) {
            return "null";
        }
        String t = s.length() > 40 ? s.substring(0, 40) + "..." : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
