package berth.driver.api;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An image as an image source describes it, with Glance's v2 field meanings.
 *
 * @param id              image id
 * @param name            image name, possibly {@code null}
 * @param source          name of the image source holding it ({@code local}, or a Glance endpoint's name)
 * @param containerFormat container format
 * @param diskFormat      disk format
 * @param size            size in bytes, or -1 when not yet uploaded
 * @param checksum        MD5 hex of the data (Glance's {@code checksum}), or {@code null}
 * @param hashAlgo        Glance's {@code os_hash_algo}, normally {@code sha512}, or {@code null}
 * @param hashValue       Glance's {@code os_hash_value}, or {@code null}
 * @param status          Glance's status ({@code queued}, {@code active} ...)
 * @param tags            tags
 * @param properties      extra properties, for example {@code os_command_line}
 * @param created         creation time, or {@code null}
 */
public record ImageInfo(String id, String name, String source, ContainerFormat containerFormat,
        DiskFormat diskFormat, long size, String checksum, String hashAlgo, String hashValue, String status,
        List<String> tags, Map<String, String> properties, Instant created) {

    /** Property holding the command line that overrides the image's own, as in nova-docker. */
    public static final String COMMAND_LINE = "os_command_line";

    public ImageInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(containerFormat, "containerFormat");
        Objects.requireNonNull(diskFormat, "diskFormat");
        Objects.requireNonNull(status, "status");
        tags = List.copyOf(tags == null ? List.of() : tags);
        properties = Map.copyOf(properties == null ? Map.of() : properties);
    }
}
