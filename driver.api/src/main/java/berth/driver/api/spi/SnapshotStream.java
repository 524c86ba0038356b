package berth.driver.api.spi;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * A snapshot being produced: the caller reads {@link #data()} to the end (streaming it to an image source) and
 * then closes this, which releases what the driver made for it. Nothing is held in memory.
 *
 * @param containerFormat format of the data
 * @param diskFormat      disk format of the data
 * @param data            the archive bytes
 * @param cleanup         run by {@link #close()}, after {@code data} is closed
 */
public record SnapshotStream(ContainerFormat containerFormat, DiskFormat diskFormat, InputStream data,
        Runnable cleanup) implements AutoCloseable {
    public SnapshotStream {
        Objects.requireNonNull(containerFormat, "containerFormat");
        Objects.requireNonNull(diskFormat, "diskFormat");
        Objects.requireNonNull(data, "data");
        cleanup = cleanup == null ? () -> { } : cleanup;
    }

    @Override
    public void close() throws IOException {
        try {
            data.close();
        } finally {
            cleanup.run();
        }
    }
}
