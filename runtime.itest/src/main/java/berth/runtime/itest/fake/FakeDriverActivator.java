package berth.runtime.itest.fake;

import berth.driver.api.spi.ComputeDriver;
import java.nio.file.Path;
import java.util.Hashtable;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;

/**
 * TEST ONLY: activator of a fake driver bundle assembled by the integration test. Its backend name and ranking
 * come from the bundle's manifest ({@code Berth-Fake-Backend}, {@code Berth-Fake-Ranking}). An activator rather
 * than a component keeps the assembled bundle to two classes and no DS descriptors.
 */
public final class FakeDriverActivator implements BundleActivator {
    private ServiceRegistration<ComputeDriver> registration;

    @Override
    public void start(BundleContext context) throws Exception {
        String name = context.getBundle().getHeaders().get("Berth-Fake-Backend");
        int ranking = Integer.parseInt(context.getBundle().getHeaders().get("Berth-Fake-Ranking"));
        String state = context.getProperty("berth.state.dir");
        FakeComputeDriver driver = new FakeComputeDriver(name, Path.of(state, "fake-engines", name + ".properties"));
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(ComputeDriver.BACKEND, name);
        props.put(Constants.SERVICE_RANKING, ranking);
        registration = context.registerService(ComputeDriver.class, driver, props);
    }

    @Override
    public void stop(BundleContext context) {
        if (registration != null) {
            registration.unregister();
            registration = null;
        }
    }
}
