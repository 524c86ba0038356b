package berth.driver.api;

import java.util.Map;

/**
 * Filters for listing images; {@code null} fields do not filter.
 *
 * @param name            exact name
 * @param containerFormat container format
 * @param diskFormat      disk format
 * @param status          status
 * @param tag             a tag the image must carry
 * @param properties      properties that must match exactly
 * @param limit           at most this many results, 0 for no limit
 */
public record ImageQuery(String name, ContainerFormat containerFormat, DiskFormat diskFormat, String status,
        String tag, Map<String, String> properties, int limit) {

    /** A query that matches every image. */
    public static final ImageQuery ALL = new ImageQuery(null, null, null, null, null, Map.of(), 0);

    public ImageQuery {
        properties = Map.copyOf(properties == null ? Map.of() : properties);
        if (limit < 0) {
            throw new InvalidInputException("limit must not be negative");
        }
    }

    /**
     * @param image an image
     * @return whether it passes every filter except the limit
     */
    public boolean matches(ImageInfo image) {
        return (name == null || name.equals(image.name()))
                && (containerFormat == null || containerFormat == image.containerFormat())
                && (diskFormat == null || diskFormat == image.diskFormat())
                && (status == null || status.equals(image.status()))
                && (tag == null || image.tags().contains(tag))
                && properties.entrySet().stream()
                        .allMatch(e -> e.getValue().equals(image.properties().get(e.getKey())));
    }
}
