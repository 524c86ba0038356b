package berth.driver.api.spi;

import berth.driver.api.Flavor;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a driver needs to create and start one container. There is no network here: the container starts
 * with only a loopback device and the compute manager plugs VIFs into its namespace afterwards.
 *
 * @param uuid     instance uuid; the driver labels its container with it
 * @param hostname hostname inside the container (the instance name)
 * @param flavor   limits to apply
 * @param image    the verified local image
 * @param env      environment of the workload
 * @param command  command line overriding the image's, or empty
 */
public record SpawnSpec(String uuid, String hostname, Flavor flavor, LocalImage image, Map<String, String> env,
        List<String> command) {
    public SpawnSpec {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(hostname, "hostname");
        Objects.requireNonNull(flavor, "flavor");
        Objects.requireNonNull(image, "image");
        env = Map.copyOf(env == null ? Map.of() : env);
        command = List.copyOf(command == null ? List.of() : command);
    }
}
