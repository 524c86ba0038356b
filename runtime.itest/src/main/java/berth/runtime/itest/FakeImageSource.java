package berth.runtime.itest;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.NotFoundException;
import berth.driver.api.ProgressListener;
import berth.driver.api.spi.ImageSource;
import berth.driver.api.spi.LocalImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** TEST ONLY: one image whose bytes are a small local file. */
final class FakeImageSource implements ImageSource {
    static final String NAME = "itest";
    static final String SHA256 = "0".repeat(64);
    private final ImageInfo image;
    private final Path file;

    FakeImageSource(Path dir) throws IOException {
        Files.createDirectories(dir);
        this.file = dir.resolve("fake-image.tar");
        Files.write(file, new byte[] {1, 2, 3});
        this.image = new ImageInfo("11111111-2222-3333-4444-555555555555", "fakeimg", NAME, ContainerFormat.DOCKER,
                DiskFormat.RAW, 3, null, null, null, "active", List.of(), Map.of(), null);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Optional<ImageInfo> find(String idOrName) {
        return image.id().equals(idOrName) || image.name().equals(idOrName) ? Optional.of(image) : Optional.empty();
    }

    @Override
    public List<ImageInfo> list(ImageQuery query) {
        return query.matches(image) ? List.of(image) : List.of();
    }

    @Override
    public LocalImage acquire(String imageId, String holder, ProgressListener progress) {
        if (!image.id().equals(imageId)) {
            throw new NotFoundException("image " + imageId + " not found");
        }
        return new LocalImage(image, file, SHA256);
    }

    @Override
    public void release(String imageId, String holder) {
    }

    @Override
    public InputStream open(String imageId) {
        return new ByteArrayInputStream(new byte[] {1, 2, 3});
    }

    @Override
    public ImageInfo upload(String name, ContainerFormat containerFormat, DiskFormat diskFormat,
            Map<String, String> properties, InputStream data, ProgressListener progress) {
        throw new EngineException("read-only test source");
    }

    @Override
    public void delete(String imageId) {
        throw new EngineException("read-only test source");
    }
}
