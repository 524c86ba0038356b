package berth.driver.lxc.internal;

import berth.driver.lxc.internal.jna.Liblxc;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * Registers the {@link LxcEngine} marker while LXC works here and withdraws it when it stops working (tools
 * removed, lxcpath gone or read-only), checking every few seconds. DS never retries a failed activation, so the
 * driver must not discover a missing engine in its own constructor (style rule 15).
 */
@Component(immediate = true, configurationPid = LxcSettings.PID)
@Designate(ocd = LxcConfig.class)
public final class LxcEngineMonitor {
    private static final long PERIOD_SECONDS = 10;

    private final BundleContext context;
    private final LxcSettings settings;
    private final ScheduledExecutorService timer;
    private Liblxc liblxc;
    private ServiceRegistration<LxcEngine> registration;
    private volatile String problem = "not checked yet";

    @Activate
    public LxcEngineMonitor(BundleContext context, LxcConfig config) {
        this.context = context;
        this.settings = LxcSettings.resolve(config, context::getProperty);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-lxc-monitor");
            t.setDaemon(true);
            return t;
        });
        // The first check runs here so a runtime that just started already offers the LXC driver.
        timer.schedule(this::check, 0, TimeUnit.SECONDS);
        try {
            timer.submit(() -> { }).get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // the periodic checks below will tell
        }
        timer.scheduleWithFixedDelay(this::check, PERIOD_SECONDS, PERIOD_SECONDS, TimeUnit.SECONDS);
    }

    /** @return why the engine is not registered, or empty when it is */
    public String problem() {
        return problem;
    }

    private synchronized void check() {
        if (timer.isShutdown()) {
            return;
        }
        List<String> p = LxcEngine.problems(settings);
        if (p.isEmpty() && liblxc == null) {
            try {
                liblxc = Liblxc.load(settings.library());
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                p = List.of("liblxc does not load (apt-get install lxc): " + e.getMessage());
            }
        }
        problem = String.join("; ", p);
        if (p.isEmpty() && registration == null) {
            Hashtable<String, Object> props = new Hashtable<>();
            props.put("berth.lxc.path", settings.lxcpath().toString());
            props.put("berth.lxc.version", liblxc.version());
            registration = context.registerService(LxcEngine.class, new LxcEngine(liblxc, settings), props);
        } else if (!p.isEmpty() && registration != null) {
            unregister();
        }
    }

    private void unregister() {
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // already gone with the bundle
        }
        registration = null;
    }

    @Deactivate
    void close() throws InterruptedException {
        timer.shutdownNow();
        timer.awaitTermination(10, TimeUnit.SECONDS);
        synchronized (this) {
            if (registration != null) {
                unregister();
            }
        }
    }
}
