package berth.runtime.internal.compute;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.NotFoundException;
import berth.driver.api.ProgressListener;
import berth.driver.api.spi.ImageSource;
import berth.driver.api.spi.LocalImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** An image source for unit tests: images in a list, pins in a map. */
final class FakeImages implements ImageSource {
    final String name;
    final List<ImageInfo> images = new CopyOnWriteArrayList<>();
    final Map<String, Set<String>> holders = new ConcurrentHashMap<>();
    volatile RuntimeException failAcquire;
    volatile long uploadedBytes;
    volatile Map<String, String> uploadedProperties;
    private final java.util.concurrent.atomic.AtomicInteger uploads = new java.util.concurrent.atomic.AtomicInteger();

    FakeImages(String name) {
        this.name = name;
    }

    ImageInfo add(String id, String imageName, ContainerFormat cf, Map<String, String> props) {
        ImageInfo i = new ImageInfo(id, imageName, name, cf, cf == ContainerFormat.DOCKER ? DiskFormat.RAW
                : DiskFormat.ROOT_TAR, 10, null, null, null, "active", List.of(), props, Instant.now());
        images.add(i);
        return i;
    }

    int pins() {
        return holders.values().stream().mapToInt(Set::size).sum();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Optional<ImageInfo> find(String idOrName) {
        return images.stream().filter(i -> i.id().equals(idOrName)).findFirst();
    }

    @Override
    public List<ImageInfo> list(ImageQuery query) {
        return images.stream().filter(query::matches).toList();
    }

    @Override
    public LocalImage acquire(String imageId, String holder, ProgressListener progress) {
        if (failAcquire != null) {
            throw failAcquire;
        }
        ImageInfo i = find(imageId).orElseThrow(() -> new NotFoundException("no image " + imageId));
        holders.computeIfAbsent(imageId, k -> ConcurrentHashMap.newKeySet()).add(holder);
        return new LocalImage(i, Path.of("/nonexistent/" + imageId), "0".repeat(64));
    }

    @Override
    public void release(String imageId, String holder) {
        Set<String> h = holders.get(imageId);
        if (h != null) {
            h.remove(holder);
        }
    }

    @Override
    public InputStream open(String imageId) {
        throw new EngineException("not in this fake");
    }

    @Override
    public ImageInfo upload(String imageName, ContainerFormat containerFormat, DiskFormat diskFormat,
            Map<String, String> properties, InputStream data, ProgressListener progress) {
        long n = 0;
        byte[] buf = new byte[8192];
        try {
            for (int r; (r = data.read(buf)) > 0;) {
                n += r;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        uploadedBytes = n;
        uploadedProperties = properties;
        ImageInfo i = new ImageInfo("snap-" + uploads.incrementAndGet(), imageName, name, containerFormat, diskFormat, n, null,
                null, null, "active", List.of(), properties, Instant.now());
        images.add(i);
        return i;
    }

    @Override
    public void delete(String imageId) {
        images.removeIf(i -> i.id().equals(imageId));
    }
}
