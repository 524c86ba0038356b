package berth.runtime.internal.compute;

import berth.driver.api.BootRequest;
import berth.driver.api.ContainerFormat;
import berth.driver.api.Instance;
import berth.driver.api.Vif;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/** Two fake backends (docker ranked 100, lxc 50), one image source with a docker and a rootfs "busybox". */
abstract class Fixture {

    @TempDir
    Path state;

    final FakeDriver docker = new FakeDriver("docker", ContainerFormat.DOCKER);
    final FakeDriver lxc = new FakeDriver("lxc", ContainerFormat.BARE);
    final FakeImages images = new FakeImages("local");
    final FakeNetwork net = new FakeNetwork();
    ComputeManager manager;

    Fixture() {
        images.add("img-docker", "busybox", ContainerFormat.DOCKER, Map.of("os_command_line", "httpd -f -p '8080'"));
        images.add("img-bare", "busybox", ContainerFormat.BARE, Map.of());
    }

    ComputeManager start() {
        return start(ComputeManager.Settings.defaults());
    }

    /** A manager over the state directory, everything bound, background work run at once. */
    ComputeManager start(ComputeManager.Settings settings) {
        manager = new ComputeManager(state, settings, Runnable::run);
        manager.addImageSource(images, "local", 0, 1);
        manager.setNetwork(net);
        manager.addDriver(docker, "docker", 100, 10, "1.0.0");
        manager.addDriver(lxc, "lxc", 50, 11, "1.0.0");
        return manager;
    }

    static BootRequest request(String name) {
        return new BootRequest(name, "busybox", "c1.small", null, List.of("default"), List.of(),
                Map.of("ROLE", "web"), List.of());
    }

    static BootRequest request(String name, String backend, List<String> networks, List<Vif> ports) {
        return new BootRequest(name, "busybox", "c1.small", backend, networks, ports, Map.of(), List.of());
    }

    Instance boot(String name) {
        return manager.boot(request(name), null);
    }

    static Vif port(String id, int n) {
        return new Vif(id, "default", "brtest0", String.format("02:11:00:00:00:%02x", n), "10.9.0." + (200 + n), 24,
                "10.9.0.1", List.of(), 1500, "eth9");
    }
}
