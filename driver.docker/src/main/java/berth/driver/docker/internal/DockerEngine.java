package berth.driver.docker.internal;

import java.util.Objects;

/**
 * Marker service: registered by {@link DockerEngineMonitor} while the engine answers, withdrawn when it stops
 * answering. The driver references it, so DS brings the driver up and down with the engine (style rule 15).
 * Service properties: {@code docker.host}, {@code docker.version}, {@code docker.api.version},
 * {@code docker.live.restore}.
 */
public final class DockerEngine {
    private final DockerSettings settings;
    private final String version;
    private final String apiVersion;
    private final boolean liveRestore;

    /**
     * @param settings    how to reach it
     * @param version     engine version
     * @param apiVersion  API version
     * @param liveRestore whether containers survive an engine restart
     */
    public DockerEngine(DockerSettings settings, String version, String apiVersion, boolean liveRestore) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.version = version;
        this.apiVersion = apiVersion;
        this.liveRestore = liveRestore;
    }

    public DockerSettings settings() {
        return settings;
    }

    public String version() {
        return version;
    }

    public String apiVersion() {
        return apiVersion;
    }

    public boolean liveRestore() {
        return liveRestore;
    }

    @Override
    public String toString() {
        return "docker " + version + " at " + settings.host() + (liveRestore ? "" : " (without --live-restore)");
    }
}
