package berth.driver.lxc.internal;

import berth.driver.api.InvalidInputException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The LXC driver's resolved settings: configuration wins over framework properties, which win over defaults.
 *
 * @param lxcpath       the Berth-owned lxcpath (never the host's /var/lib/lxc)
 * @param scope         the scope this driver lists and labels
 * @param allowSetuid   keep setuid/setgid bits when unpacking images
 * @param idmap         {@code lxc.idmap} lines for unprivileged containers, empty for privileged ones
 * @param busybox       static busybox bind-mounted into every container as its init shell
 * @param library       liblxc name for JNA
 * @param lxcBin        folder holding lxc-start and lxc-attach
 * @param seccompProfile seccomp profile file, empty for none
 */
public record LxcSettings(Path lxcpath, String scope, boolean allowSetuid, List<String> idmap, Path busybox,
        String library, Path lxcBin, String seccompProfile) {

    public static final String PID = "berth.driver.lxc";
    public static final String DEFAULT_SECCOMP = "/usr/share/lxc/config/common.seccomp";

    public LxcSettings {
        lxcpath = lxcpath.toAbsolutePath().normalize();
        String p = lxcpath.toString();
        // The lxcpath ends up in lxc config values and overlay mount options, which split on these characters.
        if (p.matches(".*[\\s:,=#\"'\\\\].*")) {
            throw new InvalidInputException("lxc path '" + p + "' must not contain spaces, ':', ',', '=', '#' or quotes");
        }
        if (!scope.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new InvalidInputException("invalid scope '" + scope + "'");
        }
        idmap = List.copyOf(idmap);
        for (String line : idmap) {
            if (!line.matches("[ug] \\d+ \\d+ \\d+")) {
                throw new InvalidInputException("invalid idmap entry '" + line + "' (want e.g. 'u 0 100000 65536')");
            }
        }
    }

    /** @return true when containers run in a user namespace */
    public boolean unprivileged() {
        return !idmap.isEmpty();
    }

    /** @return host id that container id 0 maps to for {@code u} or {@code g}, 0 when privileged */
    public long hostRootId(char kind) {
        for (String line : idmap) {
            String[] f = line.split(" ");
            if (f[0].charAt(0) == kind && f[1].equals("0")) {
                return Long.parseLong(f[2]);
            }
        }
        return 0;
    }

    /**
     * @param cfg   configuration (may hold empty strings meaning "not set")
     * @param props framework properties (BundleContext::getProperty)
     * @return the settings
     */
    public static LxcSettings resolve(LxcConfig cfg, Function<String, String> props) {
        String stateDir = or(props.apply("berth.state.dir"), "/var/lib/berth");
        String lxcpath = or(cfg.lxc_path(), or(props.apply("berth.lxc.path"), stateDir + "/lxc"));
        String scope = or(cfg.scope(), or(props.apply("berth.scope"), "default"));
        List<String> idmap = new ArrayList<>();
        for (String s : cfg.idmap().split(";")) {
            if (!s.isBlank()) {
                idmap.add(s.trim().replaceAll("\\s+", " "));
            }
        }
        return new LxcSettings(Path.of(lxcpath), scope, cfg.allow_setuid(), idmap, Path.of(cfg.busybox()),
                cfg.library(), Path.of(cfg.lxc_bin()), cfg.seccomp_profile());
    }

    private static String or(String v, String dflt) {
        return v == null || v.isBlank() ? dflt : v.trim();
    }

    /** @return settings for tests and tools: privileged, default tools */
    public static LxcSettings of(Path lxcpath, String scope) {
        return new LxcSettings(lxcpath, scope, false, List.of(), Path.of("/bin/busybox"), "lxc", Path.of("/usr/bin"),
                DEFAULT_SECCOMP);
    }
}
