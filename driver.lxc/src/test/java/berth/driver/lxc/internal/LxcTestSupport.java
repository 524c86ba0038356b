package berth.driver.lxc.internal;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import berth.driver.lxc.internal.jna.Liblxc;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the real engine for tests; with CI=true a missing engine fails instead of skipping. */
public final class LxcTestSupport {
    private LxcTestSupport() {
    }

    public static void require(boolean ok, String what) {
        if (ok) {
            return;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail("required for this test and missing: " + what);
        }
        assumeTrue(false, "skipped, missing: " + what);
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** @return liblxc, or skips/fails the test when it does not load or we are not root */
    public static Liblxc requireLxc() {
        require(isRoot(), "root (LXC tests run privileged containers)");
        require(Files.isExecutable(Path.of("/usr/bin/lxc-start")), "lxc-start (apt-get install lxc)");
        require(Files.isRegularFile(Path.of("/bin/busybox")), "/bin/busybox (apt-get install busybox-static)");
        try {
            return Liblxc.load("lxc");
        } catch (UnsatisfiedLinkError e) {
            require(false, "liblxc.so.1 (apt-get install lxc): " + e.getMessage());
            return null;
        }
    }

    /** @return the lxcpath tests use: -Dberth.test.lxc.path, else a folder under target */
    public static Path testLxcPath(String leaf) {
        String base = System.getProperty("berth.test.lxc.path", "target/lxc-test");
        return Path.of(base).toAbsolutePath().resolve(leaf);
    }
}
