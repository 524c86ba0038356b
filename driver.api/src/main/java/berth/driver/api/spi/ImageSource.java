package berth.driver.api.spi;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.ProgressListener;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A place images come from: the local store (the embedded default) or a Glance endpoint. Registered with
 * {@link #SOURCE} and a service ranking; the highest-ranked source is the default for lookups by name.
 *
 * <p>The source owns the download cache: {@link #acquire} returns a verified local file and pins it until
 * {@link #release}.
 */
@org.osgi.annotation.versioning.ConsumerType
public interface ImageSource {

    /** Service property naming the source: {@code local}, or the name of a Glance endpoint. */
    String SOURCE = "berth.image.source";

    /** @return the source's name, equal to the {@link #SOURCE} property */
    String name();

    /**
     * @param idOrName image id, or a name
     * @return the image with that id, else the only active image of that name
     * @throws berth.driver.api.ConflictException when several images carry the name
     */
    Optional<ImageInfo> find(String idOrName);

    /** @param query filters @return matching images */
    List<ImageInfo> list(ImageQuery query);

    /**
     * Makes the image's bytes local and verified (size and checksums compared) and pins them for
     * {@code holder} until released.
     *
     * @param imageId  image id
     * @param holder   who holds it, normally an instance uuid
     * @param progress told of the download
     * @return the local image
     * @throws berth.driver.api.NotFoundException when the image does not exist
     * @throws berth.driver.api.EngineException   when the download fails or does not verify; nothing partial is
     *                                            kept
     */
    LocalImage acquire(String imageId, String holder, ProgressListener progress);

    /**
     * @param imageId image id
     * @param holder  the holder given to {@link #acquire}
     */
    void release(String imageId, String holder);

    /**
     * Opens the image's bytes as a stream that fails at its end if the data does not match the checksums.
     *
     * @param imageId image id
     * @return the stream; the caller closes it
     */
    InputStream open(String imageId);

    /**
     * Creates an image and uploads its bytes from {@code data}, reading to its end. On failure no image is left.
     *
     * @param name            image name
     * @param containerFormat container format
     * @param diskFormat      disk format
     * @param properties      extra properties
     * @param data            the bytes
     * @param progress        told of the upload
     * @return the active image
     */
    ImageInfo upload(String name, ContainerFormat containerFormat, DiskFormat diskFormat,
            Map<String, String> properties, InputStream data, ProgressListener progress);

    /**
     * @param imageId image id
     * @throws berth.driver.api.NotFoundException when it does not exist
     */
    void delete(String imageId);
}
