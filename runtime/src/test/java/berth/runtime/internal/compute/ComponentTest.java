package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.Instance;
import berth.driver.api.PowerState;
import berth.driver.api.VmState;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;

/** The DS entry: constructor with BundleContext and Config, the state directory rule, the periodic sync. */
class ComponentTest extends Fixture {

    static ComputeManager.Config config(Map<String, Object> values) {
        return (ComputeManager.Config) Proxy.newProxyInstance(ComputeManager.Config.class.getClassLoader(),
                new Class<?>[] {ComputeManager.Config.class}, (proxy, m, args) -> {
                    if (values.containsKey(m.getName())) {
                        return values.get(m.getName());
                    }
                    return m.getDefaultValue();
                });
    }

    static BundleContext context(Map<String, String> props) {
        return (BundleContext) Proxy.newProxyInstance(BundleContext.class.getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, m, args) -> {
                    if (m.getName().equals("getProperty")) {
                        return props.get((String) args[0]);
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    @Test
    void stateDirectoryFromThePropertyOrTheConfiguration() {
        Path fromProperty = state.resolve("p");
        ComputeManager a = new ComputeManager(context(Map.of("berth.state.dir", fromProperty.toString())),
                config(Map.of("powerSyncSeconds", 0)));
        a.close();
        assertTrue(Files.isDirectory(fromProperty.resolve("registry")));
        Path fromConfig = state.resolve("c");
        ComputeManager b = new ComputeManager(context(Map.of("berth.state.dir", fromProperty.toString())),
                config(Map.of("stateDir", fromConfig.toString(), "powerSyncSeconds", 0)));
        b.close();
        assertTrue(Files.isDirectory(fromConfig.resolve("registry")), "configuration wins over the property");
    }

    @Test
    void badConfigurationRefusesActivation() {
        assertThrows(IllegalArgumentException.class, () -> new ComputeManager(context(Map.of()),
                config(Map.of("stateDir", state.toString(), "extraFlavors", new String[] {"bad"}))));
        assertThrows(IllegalArgumentException.class, () -> new ComputeManager(context(Map.of()),
                config(Map.of("stateDir", state.toString(), "preferredBackend", "a b"))));
    }

    @Test
    void modifiedKeepsTheOldSettingsWhenTheNewAreBad() {
        ComputeManager m = new ComputeManager(context(Map.of()), config(Map.of("stateDir", state.toString(),
                "powerSyncSeconds", 0, "extraFlavors", new String[] {"m1.x:32:1"})));
        try {
            assertEquals("m1.x", m.flavors().get(0).name());
            m.modified(config(Map.of("stateDir", state.toString(), "extraFlavors", new String[] {"broken"})));
            assertEquals("m1.x", m.flavors().get(0).name());
            m.modified(config(Map.of("stateDir", state.toString(), "preferredBackend", "lxc")));
            assertEquals(java.util.Optional.of("lxc"), m.preferredBackend());
            assertEquals(6, m.flavors().size());
        } finally {
            m.close();
        }
    }

    @Test
    void thePeriodicSyncNoticesAWorkloadThatEndedOnItsOwn() throws Exception {
        ComputeManager m = new ComputeManager(context(Map.of("berth.state.dir", state.toString())),
                config(Map.of("powerSyncSeconds", 1)));
        try {
            m.addImageSource(images, "local", 0, 1);
            m.setNetwork(net);
            m.addDriver(docker, "docker", 100, 10, null);
            Instance web = m.boot(request("web1"), null);
            FakeDriver.Container c = docker.containers.get(web.uuid());
            c.power = PowerState.CRASHED;
            c.exit = 3;
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (m.show("web1").vmState() != VmState.STOPPED && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            Instance i = m.show("web1");
            assertEquals(VmState.STOPPED, i.vmState());
            assertEquals(PowerState.CRASHED, i.powerState());
        } finally {
            m.close();
        }
    }
}
