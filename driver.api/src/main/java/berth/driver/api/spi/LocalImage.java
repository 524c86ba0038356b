package berth.driver.api.spi;

import berth.driver.api.ImageInfo;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An image whose bytes are on local disk and were verified against the image source's checksums. The image
 * source owns the file and keeps it while the image is acquired; a driver reads it and keeps its own engine copy.
 *
 * @param info   the image's description
 * @param file   the verified file
 * @param sha256 SHA-256 hex of the file, a key that changes whenever the bytes change
 */
public record LocalImage(ImageInfo info, Path file, String sha256) {
    public LocalImage {
        Objects.requireNonNull(info, "info");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(sha256, "sha256");
        if (!sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("sha256 must be 64 lower-case hex digits");
        }
    }
}
