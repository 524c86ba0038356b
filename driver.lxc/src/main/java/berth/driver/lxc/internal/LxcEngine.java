package berth.driver.lxc.internal;

import berth.driver.lxc.internal.jna.Liblxc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Marker service meaning "LXC works here": liblxc is loaded, the tools are present and the lxcpath is usable.
 * {@link LxcEngineMonitor} registers it while that holds, so the driver comes and goes with the engine.
 *
 * @param liblxc   the loaded library
 * @param settings resolved settings
 */
public record LxcEngine(Liblxc liblxc, LxcSettings settings) {

    /**
     * @param s settings
     * @return what keeps LXC from working here, empty when nothing does
     */
    public static List<String> problems(LxcSettings s) {
        List<String> p = new ArrayList<>();
        for (String tool : new String[] {"lxc-start", "lxc-attach"}) {
            if (!Files.isExecutable(s.lxcBin().resolve(tool))) {
                p.add(s.lxcBin().resolve(tool) + " missing (apt-get install lxc)");
            }
        }
        if (!Files.isExecutable(s.busybox())) {
            p.add(s.busybox() + " missing (apt-get install busybox-static)");
        }
        if (s.unprivileged() && Files.exists(Path.of("/usr/bin/newuidmap"))) {
            // With uidmap installed LXC maps through newuidmap, which honours /etc/subuid even for root.
            for (String f : new String[] {"/etc/subuid", "/etc/subgid"}) {
                try {
                    if (Files.readAllLines(Path.of(f)).stream().noneMatch(l -> l.startsWith("root:"))) {
                        p.add(f + " grants root no subordinate ids (usermod --add-subuids/--add-subgids)");
                    }
                } catch (IOException e) {
                    p.add("cannot read " + f);
                }
            }
        }
        try {
            if (!Files.readString(Path.of("/proc/filesystems")).contains("\toverlay")) {
                p.add("the kernel has no overlay filesystem");
            }
        } catch (IOException e) {
            p.add("cannot read /proc/filesystems");
        }
        try {
            Files.createDirectories(s.lxcpath());
            if (!Files.isWritable(s.lxcpath())) {
                p.add("lxc path " + s.lxcpath() + " is not writable");
            }
        } catch (IOException e) {
            p.add("lxc path " + s.lxcpath() + " cannot be created: " + e.getMessage());
        }
        return p;
    }
}
