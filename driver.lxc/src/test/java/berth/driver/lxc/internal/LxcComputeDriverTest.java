package berth.driver.lxc.internal;

import berth.driver.api.ContainerFormat;
import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.LocalImage;
import berth.driver.lxc.internal.image.SafeTarExtractor;
import berth.driver.lxc.internal.jna.Liblxc;
import berth.driver.tck.ComputeDriverContract;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The shared contract kit against real LXC, booting the native rootfs format. Engine found through liblxc and
 * {@code /usr/bin/lxc-start}; lxcpath from {@code -Dberth.test.lxc.path} (a folder under target by default).
 */
class LxcComputeDriverTest extends ComputeDriverContract {
    static Path lxcpath;
    static LxcComputeDriver driver;
    static LxcComputeDriver other;
    static String missing;
    static final Map<ContainerFormat, LocalImage> IMAGES = new EnumMap<>(ContainerFormat.class);

    @BeforeAll
    static void start() throws Exception {
        LxcSettings probe = LxcSettings.of(LxcTestSupport.testLxcPath("tck-" + UUID.randomUUID().toString()
                .substring(0, 8)), "tck-lxc");
        if (!LxcTestSupport.isRoot()) {
            missing = "root";
            return;
        }
        java.util.List<String> problems = LxcEngine.problems(probe);
        if (!problems.isEmpty()) {
            missing = String.join("; ", problems);
            return;
        }
        Liblxc lxc;
        try {
            lxc = Liblxc.load("lxc");
        } catch (UnsatisfiedLinkError e) {
            missing = "liblxc: " + e.getMessage();
            return;
        }
        lxcpath = probe.lxcpath();
        Path src = Files.createDirectories(lxcpath.resolveSibling(lxcpath.getFileName() + "-images"));
        IMAGES.put(ContainerFormat.BARE, TestTars.localImage(new TestTars().busyboxRoot()
                .writeTo(src.resolve("rootfs.tar")), ContainerFormat.BARE));
        IMAGES.put(ContainerFormat.DOCKER, TestTars.localImage(TestTars.dockerSave(src.resolve("docker.tar"),
                "[\"sleep\",\"1000000\"]", "[\"PATH=/bin\"]", new TestTars().busyboxRoot().bytes()),
                ContainerFormat.DOCKER));
        driver = new LxcComputeDriver(new LxcEngine(lxc, probe));
        other = new LxcComputeDriver(new LxcEngine(lxc, LxcSettings.of(lxcpath, "tck-lxc-other")));
    }

    @AfterAll
    static void stop() throws IOException {
        if (driver != null) {
            driver.close();
            other.close();
            SafeTarExtractor.deleteTree(lxcpath);
            SafeTarExtractor.deleteTree(lxcpath.resolveSibling(lxcpath.getFileName() + "-images"));
        }
    }

    @Override
    protected ComputeDriver driver() {
        return driver;
    }

    @Override
    protected LocalImage image(ContainerFormat format) {
        return IMAGES.get(format);
    }

    @Override
    protected Optional<String> engineMissing() {
        return Optional.ofNullable(missing);
    }

    @Override
    protected ContainerFormat bootFormat() {
        return ContainerFormat.BARE;
    }

    @Override
    protected Optional<ComputeDriver> otherScopeDriver() {
        return Optional.of(other);
    }
}
