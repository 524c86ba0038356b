package berth.driver.api;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What Berth knows of one instance: the registry's record, as {@code nova:show} prints it.
 *
 * @param uuid        stable identity
 * @param name        hostname-like name, unique among live instances
 * @param flavor      flavor name
 * @param imageId     id of the image it was booted from
 * @param imageSource name of the image source that served the image, for example {@code local}
 * @param backend     backend that owns it, for example {@code docker}
 * @param vmState     what Berth intends
 * @param taskState   the operation in progress, or {@code null}
 * @param powerState  the engine's last reported power state
 * @param vifs        its network interfaces
 * @param metadata    user metadata (passed to the workload as environment)
 * @param fault       reason of the last failure, or {@code null}
 * @param created     when it was created
 * @param updated     when its record last changed
 */
public record Instance(String uuid, String name, String flavor, String imageId, String imageSource, String backend,
        VmState vmState, TaskState taskState, PowerState powerState, List<Vif> vifs, Map<String, String> metadata,
        String fault, Instant created, Instant updated) {

    public Instance {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(flavor, "flavor");
        Objects.requireNonNull(imageId, "imageId");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(vmState, "vmState");
        Objects.requireNonNull(powerState, "powerState");
        Objects.requireNonNull(created, "created");
        Objects.requireNonNull(updated, "updated");
        vifs = List.copyOf(vifs == null ? List.of() : vifs);
        metadata = Map.copyOf(metadata == null ? Map.of() : metadata);
    }
}
