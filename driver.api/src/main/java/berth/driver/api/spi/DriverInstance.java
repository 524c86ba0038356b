package berth.driver.api.spi;

import berth.driver.api.PowerState;
import java.util.Objects;

/**
 * A Berth container as its engine sees it.
 *
 * @param uuid       the instance uuid the container is labelled with
 * @param engineId   the engine's own id or name for it
 * @param powerState its power state, mapped as the driver contract says
 * @param initPid    host pid of its init process, 0 when not running
 * @param exitCode   last exit code, or -1 when unknown or still running
 * @param imageId    the Berth image id it was spawned from, or {@code null} if unknown
 */
public record DriverInstance(String uuid, String engineId, PowerState powerState, long initPid, int exitCode,
        String imageId) {
    public DriverInstance {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(engineId, "engineId");
        Objects.requireNonNull(powerState, "powerState");
    }
}
