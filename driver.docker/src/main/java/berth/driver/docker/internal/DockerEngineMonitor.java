package berth.driver.docker.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.api.model.EventType;
import java.io.Closeable;
import java.time.Duration;
import java.util.Hashtable;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Watches one Docker engine: pings it and follows its event stream, and registers a {@link DockerEngine} marker
 * service while it answers. A broken event stream (dockerd stopping) is noticed at once; a hung engine by the
 * ping's timeout. It never throws when the engine is down: it waits for it to come back.
 */
@Component(service = {}, immediate = true, configurationPid = DockerEngineMonitor.PID)
@Designate(ocd = DockerEngineMonitor.Config.class)
public final class DockerEngineMonitor implements Closeable {

    /** Configuration PID of the engine connection. */
    public static final String PID = "berth.driver.docker";

    private static final Logger LOG = Logger.getLogger(DockerEngineMonitor.class.getName());

    @ObjectClassDefinition(name = "Berth Docker engine")
    public @interface Config {
        @AttributeDefinition(description = "Engine URI (unix:// or tcp://); empty means the berth.docker.host property")
        String docker_host() default "";

        @AttributeDefinition(description = "Use TLS and verify the engine (tcp://)")
        boolean tls_verify() default false;

        @AttributeDefinition(description = "Directory holding ca.pem, cert.pem and key.pem for TLS")
        String cert_path() default "";

        @AttributeDefinition(description = "Milliseconds between pings")
        long ping_interval_ms() default 2000;
    }

    private final DockerSettings settings;
    private final long intervalMillis;
    private final Consumer<Optional<DockerEngine>> listener;
    private final Thread thread;
    private final Object wake = new Object();
    private volatile boolean closed;
    private volatile boolean streamBroken;
    private final java.util.concurrent.atomic.AtomicInteger generation = new java.util.concurrent.atomic.AtomicInteger();
    private DockerEngine current;
    private final java.util.concurrent.CountDownLatch firstProbe = new java.util.concurrent.CountDownLatch(1);

    @Activate
    public DockerEngineMonitor(BundleContext context, Config config) {
        this(settings(context, config), Duration.ofMillis(Math.max(100, config.ping_interval_ms())),
                new Registrar(context));
    }

    /**
     * @param settings engine to watch
     * @param interval time between pings
     * @param listener told the engine (when it starts answering) or empty (when it stops); called from the
     *                 monitor's thread
     */
    public DockerEngineMonitor(DockerSettings settings, Duration interval, Consumer<Optional<DockerEngine>> listener) {
        this.settings = settings;
        this.intervalMillis = interval.toMillis();
        this.listener = listener;
        this.thread = new Thread(this::run, "berth-docker-monitor " + settings.host());
        thread.setDaemon(true);
        thread.start();
        // Wait (briefly) for the first answer so that a runtime that just started already offers the Docker
        // driver: otherwise the first boot typed at the prompt lands on the next-ranked backend.
        try {
            firstProbe.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static DockerSettings settings(BundleContext context, Config config) {
        String host = config.docker_host();
        if (host == null || host.isBlank()) {
            host = context.getProperty("berth.docker.host");
        }
        return new DockerSettings(host == null || host.isBlank() ? DockerSettings.DEFAULT_HOST : host,
                config.tls_verify(), config.cert_path());
    }

    private void run() {
        while (!closed) {
            try (DockerSettings.Clients pinger = settings.connect(Duration.ofSeconds(3));
                    DockerSettings.Clients events = settings.connect(null)) {
                while (!closed) {
                    DockerEngine engine = probe(pinger);
                    if (engine == null) {
                        change(null);
                        break;
                    }
                    if (current == null) {
                        // follow events before announcing the engine, so a stop right after is not missed
                        streamBroken = false;
                        follow(events);
                    }
                    change(engine);
                    if (streamBroken) {
                        change(null);
                        break;
                    }
                    pause();
                }
            } catch (RuntimeException e) {
                change(null);
            }
            generation.incrementAndGet();
            pause();
        }
        change(null);
    }

    private DockerEngine probe(DockerSettings.Clients c) {
        try {
            c.docker().pingCmd().exec();
            JsonNode version = c.getJson("/version");
            JsonNode info = c.getJson("/info");
            return new DockerEngine(settings, version.path("Version").asText(""),
                    version.path("ApiVersion").asText(""), info.path("LiveRestoreEnabled").asBoolean(false));
        } catch (Exception e) {
            if (current != null) {
                LOG.info("docker engine " + settings.host() + " stopped answering: " + e.getMessage());
            }
            return null;
        }
    }

    private void follow(DockerSettings.Clients c) {
        int gen = generation.incrementAndGet();
        c.docker().eventsCmd().withEventTypeFilter(EventType.DAEMON, EventType.CONTAINER)
                .exec(new ResultCallback.Adapter<Event>() {
                    @Override
                    public void onError(Throwable t) {
                        broken(gen);
                    }

                    @Override
                    public void onComplete() {
                        broken(gen);
                    }
                });
    }

    private void broken(int gen) {
        if (gen != generation.get()) {
            return; // a stream of an earlier connection, closed on purpose
        }
        streamBroken = true;
        synchronized (wake) {
            wake.notifyAll();
        }
    }

    private void pause() {
        synchronized (wake) {
            if (closed || streamBroken && current != null) {
                return;
            }
            try {
                wake.wait(intervalMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                closed = true;
            }
        }
    }

    private void change(DockerEngine engine) {
        try {
            changeState(engine);
        } finally {
            firstProbe.countDown();
        }
    }

    private void changeState(DockerEngine engine) {
        boolean was = current != null;
        if (engine == null && !was) {
            return;
        }
        if (engine != null && was && same(current, engine)) {
            return;
        }
        if (was && engine != null) {
            listener.accept(Optional.empty());
        }
        current = engine;
        if (engine != null) {
            LOG.info("docker engine answers: " + engine);
        }
        listener.accept(Optional.ofNullable(engine));
    }

    private static boolean same(DockerEngine a, DockerEngine b) {
        return a.version().equals(b.version()) && a.liveRestore() == b.liveRestore();
    }

    /** @return the engine while it answers */
    public Optional<DockerEngine> engine() {
        return Optional.ofNullable(current);
    }

    @Deactivate
    @Override
    public void close() {
        closed = true;
        synchronized (wake) {
            wake.notifyAll();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Registers and withdraws the marker service in the OSGi service registry. */
    private static final class Registrar implements Consumer<Optional<DockerEngine>> {
        private final BundleContext context;
        private ServiceRegistration<DockerEngine> registration;

        Registrar(BundleContext context) {
            this.context = context;
        }

        @Override
        public synchronized void accept(Optional<DockerEngine> engine) {
            if (registration != null) {
                try {
                    registration.unregister();
                } catch (IllegalStateException ignored) {
                    // the bundle is stopping and the registry took it away already
                }
                registration = null;
            }
            engine.ifPresent(e -> {
                Hashtable<String, Object> props = new Hashtable<>();
                props.put("docker.host", e.settings().host());
                props.put("docker.version", e.version());
                props.put("docker.api.version", e.apiVersion());
                props.put("docker.live.restore", e.liveRestore());
                registration = context.registerService(DockerEngine.class, e, props);
            });
        }
    }
}
