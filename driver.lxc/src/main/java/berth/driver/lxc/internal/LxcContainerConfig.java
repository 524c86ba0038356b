package berth.driver.lxc.internal;

import berth.driver.api.Flavor;
import berth.driver.api.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes one container's LXC config and its init script.
 *
 * <p>Security, as Debian's LXC allows here: privileged containers (no ID map) keep only Docker's default
 * capability set ({@code lxc.cap.keep}) so, for example, {@code mount} fails inside; the device cgroup allows only
 * the usual character devices; seccomp uses LXC's common profile (no kexec, module loading, open_by_handle_at).
 * AppArmor is set to {@code unconfined} because this kernel has no AppArmor (no /sys/module/apparmor) and LXC's
 * generated profiles need {@code apparmor_parser}; with AppArmor absent a named profile would make every start
 * fail. An {@code lxc.idmap} turns containers unprivileged.
 *
 * <p>Init: {@code lxc.init.cmd} splits on blanks with no quoting, so the command line is written into a script
 * run by a static busybox bind-mounted at {@code /.berth/busybox} (works for images without a shell). The script
 * forwards SIGTERM/SIGINT to the workload, reaps it and writes its exit status to {@code /.berth/run/exit}, which
 * is how a crash (non-zero exit nobody asked for) is told from a requested stop.
 */
final class LxcContainerConfig {
    /** Docker's default capabilities (moby oci/caps/defaults.go). */
    static final String DOCKER_CAPS = "chown dac_override fsetid fowner mknod net_raw setgid setuid setfcap setpcap"
            + " net_bind_service sys_chroot kill audit_write";
    static final int CONSOLE_BYTES = 256 * 1024;
    static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final String[] DEVICES = {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
        "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:229 rwm"};

    private LxcContainerConfig() {
    }

    static boolean cgroupV2() {
        return Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers"));
    }

    static String config(LxcSettings s, Path dir, String hostname, Flavor flavor, Path baseRootfs,
            Map<String, String> env) {
        checkValue("hostname", hostname);
        StringBuilder c = new StringBuilder("# Written by Berth; regenerated on spawn.\n");
        line(c, "lxc.uts.name", hostname);
        line(c, "lxc.rootfs.path", "overlay:" + baseRootfs + ":" + dir.resolve("delta"));
        line(c, "lxc.net.0.type", "empty");
        line(c, "lxc.apparmor.profile", "unconfined");
        if (!s.seccompProfile().isBlank() && Files.isRegularFile(Path.of(s.seccompProfile()))) {
            line(c, "lxc.seccomp.profile", s.seccompProfile());
        }
        line(c, "lxc.cap.keep", DOCKER_CAPS);
        for (String m : s.idmap()) {
            line(c, "lxc.idmap", m);
        }
        line(c, "lxc.mount.auto", "proc:mixed sys:ro cgroup:ro");
        line(c, "lxc.autodev", "1");
        line(c, "lxc.pty.max", "16");
        line(c, "lxc.tty.max", "0");
        boolean v2 = cgroupV2();
        String cg = v2 ? "lxc.cgroup2." : "lxc.cgroup.";
        line(c, cg + "devices.deny", "a");
        for (String d : DEVICES) {
            line(c, cg + "devices.allow", d);
        }
        if (v2) {
            line(c, "lxc.cgroup2.memory.max", Long.toString(flavor.memoryBytes()));
            line(c, "lxc.cgroup2.cpu.weight", Integer.toString(Math.min(10000, Math.max(1, flavor.vcpus() * 100))));
            line(c, "lxc.cgroup2.pids.max", Integer.toString(flavor.pidsLimit()));
        } else {
            line(c, "lxc.cgroup.memory.limit_in_bytes", Long.toString(flavor.memoryBytes()));
            line(c, "lxc.cgroup.cpu.shares", Integer.toString(1024 * flavor.vcpus()));
            line(c, "lxc.cgroup.pids.max", Integer.toString(flavor.pidsLimit()));
        }
        line(c, "lxc.mount.entry", s.busybox() + " .berth/busybox none bind,ro,create=file 0 0");
        line(c, "lxc.mount.entry", dir.resolve("init") + " .berth/init none bind,ro,create=file 0 0");
        line(c, "lxc.mount.entry", dir.resolve("run") + " .berth/run none bind,rw,create=dir 0 0");
        line(c, "lxc.init.cmd", "/.berth/busybox sh /.berth/init");
        line(c, "lxc.signal.halt", "SIGTERM");
        line(c, "lxc.signal.stop", "SIGKILL");
        for (Map.Entry<String, String> e : env.entrySet()) {
            line(c, "lxc.environment", e.getKey() + "=" + e.getValue());
        }
        line(c, "lxc.console.logfile", dir.resolve("console.log").toString());
        // Bounds the log: LXC rotates it to console.log.1 at this size (so at most twice this on disk).
        line(c, "lxc.console.size", Integer.toString(CONSOLE_BYTES));
        line(c, "lxc.console.rotate", "1");
        line(c, "lxc.log.file", dir.resolve("lxc.log").toString());
        line(c, "lxc.log.level", "WARN");
        return c.toString();
    }

    static String initScript(List<String> argv, String workdir) {
        StringBuilder sb = new StringBuilder("# Written by Berth: runs the workload, forwards SIGTERM/SIGINT to it,\n"
                + "# and records its exit status for the host.\n");
        if (!workdir.isEmpty()) {
            sb.append("cd ").append(Shell.quote(workdir)).append(" 2>/dev/null || cd /\n");
        }
        sb.append("set --");
        for (String a : argv) {
            sb.append(' ').append(Shell.quote(a));
        }
        sb.append('\n');
        // A signal that arrives before the workload exists ends init at once (and with it the container).
        sb.append("child=\n");
        sb.append("trap 'if [ -n \"$child\" ]; then kill -TERM $child 2>/dev/null; else echo 143 > /.berth/run/exit;"
                + " exit 143; fi' TERM\n");
        sb.append("trap 'if [ -n \"$child\" ]; then kill -INT $child 2>/dev/null; else echo 130 > /.berth/run/exit;"
                + " exit 130; fi' INT\n");
        sb.append("\"$@\" &\n");
        sb.append("child=$!\n");
        // A signal forwarded between the fork and the exec of the workload hits the shell's inherited handler
        // and is lost (seen: about 1 stop in 30 waited out its whole grace period). Wait for the exec (the child's
        // cmdline stops being ours), then tell the host that a SIGTERM will now reach the workload: PID 1 also
        // ignores signals it has no handler for, so the host waits for this mark before stopping.
        sb.append("self=$(/.berth/busybox cat /proc/$$/cmdline)\n");
        sb.append("n=0\n");
        sb.append("while [ $n -lt 1000 ] && [ \"$(/.berth/busybox cat /proc/$child/cmdline 2>/dev/null)\" = \"$self\" ];"
                + " do n=$((n+1)); done\n");
        sb.append(": > /.berth/run/ready\n");
        sb.append("while :; do\n  wait $child; rc=$?\n  kill -0 $child 2>/dev/null || break\ndone\n");
        sb.append("echo $rc > /.berth/run/exit\n");
        sb.append("exit $rc\n");
        return sb.toString();
    }

    private static void line(StringBuilder c, String key, String value) {
        checkValue(key, value);
        c.append(key).append(" = ").append(value).append('\n');
    }

    static void checkValue(String what, String value) {
        if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\0') >= 0) {
            throw new InvalidInputException(what + " must not contain line breaks or NUL");
        }
    }
}
