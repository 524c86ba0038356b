package berth.driver.lxc.internal.image;

import berth.driver.api.ContainerFormat;
import berth.driver.api.EngineException;
import berth.driver.api.io.DurableFiles;
import berth.driver.api.spi.LocalImage;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPInputStream;

/**
 * Read-only image bases under {@code <lxcpath>/.images/<key>/rootfs}, unpacked once per image checksum (and ID
 * shift) and shared by every instance through an overlayfs upper layer. An unpack happens in a private temporary
 * folder renamed into place only when complete, so a failure or a crash leaves no partial base.
 */
public final class ImageBases {
    /** One unpacked image. */
    public record Base(Path dir, Path rootfs, String imageId, String sha256, ImageMeta meta) {
    }

    private final Path imagesDir;
    private final boolean allowSetuid;
    private final long uidShift;
    private final long gidShift;
    private final ObjectMapper mapper;
    private final ConcurrentHashMap<String, Object> locks = new ConcurrentHashMap<>();

    public ImageBases(Path imagesDir, boolean allowSetuid, long uidShift, long gidShift, ObjectMapper mapper) {
        this.imagesDir = imagesDir;
        this.allowSetuid = allowSetuid;
        this.uidShift = uidShift;
        this.gidShift = gidShift;
        this.mapper = mapper;
    }

    /** @return the folder holding the bases */
    public Path dir() {
        return imagesDir;
    }

    private String key(String sha256) {
        return uidShift == 0 && gidShift == 0 ? sha256 : sha256 + "-u" + uidShift + "-g" + gidShift;
    }

    /**
     * Returns the base for the image, unpacking it first if needed.
     *
     * @param image verified local image
     * @return the base
     * @throws EngineException when the archive is unsafe or malformed; nothing is left behind
     */
    public Base ensure(LocalImage image) {
        String key = key(image.sha256());
        Object lock = locks.computeIfAbsent(key, k -> new Object());
        synchronized (lock) {
            Path dir = imagesDir.resolve(key);
            try {
                Base b = read(dir);
                if (b != null) {
                    return b;
                }
                Files.createDirectories(imagesDir);
                Path tmp = imagesDir.resolve(".tmp-" + key + "-" + UUID.randomUUID());
                Path rootfs = tmp.resolve("rootfs");
                try {
                    Files.createDirectories(rootfs);
                    Files.setAttribute(rootfs, "unix:mode", 0755);
                    SafeTarExtractor x = new SafeTarExtractor(rootfs, allowSetuid, uidShift, gidShift);
                    ImageMeta meta;
                    if (image.info().containerFormat() == ContainerFormat.DOCKER) {
                        meta = DockerArchive.flatten(image.file(), x, mapper);
                    } else {
                        try (InputStream in = open(image.file())) {
                            x.extract(in, false);
                        }
                        meta = ImageMeta.empty();
                    }
                    if (uidShift != 0 || gidShift != 0) {
                        Files.setAttribute(rootfs, "unix:uid", (int) uidShift);
                        Files.setAttribute(rootfs, "unix:gid", (int) gidShift);
                    }
                    ObjectNode m = mapper.createObjectNode();
                    m.put("imageId", image.info().id());
                    m.put("sha256", image.sha256());
                    m.put("format", image.info().containerFormat().wireName());
                    m.set("meta", mapper.valueToTree(meta));
                    DurableFiles.write(tmp.resolve("meta.json"), mapper.writeValueAsBytes(m));
                    try {
                        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                    } catch (AtomicMoveNotSupportedException e) {
                        throw new IOException("cannot rename " + tmp + " atomically", e);
                    }
                    DurableFiles.syncDirectory(imagesDir);
                } catch (IOException | RuntimeException e) {
                    deleteQuietly(tmp);
                    throw e;
                }
                return read(dir);
            } catch (IOException e) {
                throw new EngineException("cannot unpack image " + image.info().id() + ": " + e.getMessage(), e);
            }
        }
    }

    private static InputStream open(Path file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        in.mark(2);
        int a = in.read();
        int b = in.read();
        in.reset();
        return a == 0x1f && b == 0x8b ? new GZIPInputStream(in, 1 << 16) : in;
    }

    private Base read(Path dir) throws IOException {
        Path metaFile = dir.resolve("meta.json");
        if (!Files.isRegularFile(metaFile)) {
            return null;
        }
        var n = mapper.readTree(metaFile.toFile());
        ImageMeta meta = mapper.treeToValue(n.path("meta"), ImageMeta.class);
        return new Base(dir, dir.resolve("rootfs"), n.path("imageId").asText(), n.path("sha256").asText(), meta);
    }

    /** @return every complete base */
    public List<Base> list() {
        List<Base> out = new ArrayList<>();
        if (!Files.isDirectory(imagesDir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(imagesDir)) {
            for (Path d : ds) {
                if (!d.getFileName().toString().startsWith(".")) {
                    Base b = read(d);
                    if (b != null) {
                        out.add(b);
                    }
                }
            }
        } catch (IOException e) {
            throw new EngineException("cannot list image bases in " + imagesDir + ": " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * Deletes a base; the caller makes sure no instance uses it.
     *
     * @param base the base
     */
    public void delete(Base base) {
        Object lock = locks.computeIfAbsent(base.dir().getFileName().toString(), k -> new Object());
        synchronized (lock) {
            // Rename first so a half-deleted base is never mistaken for a complete one.
            Path trash = imagesDir.resolve(".del-" + UUID.randomUUID());
            try {
                Files.move(base.dir(), trash, StandardCopyOption.ATOMIC_MOVE);
                SafeTarExtractor.deleteTree(trash);
            } catch (IOException e) {
                throw new EngineException("cannot delete image base " + base.dir() + ": " + e.getMessage(), e);
            }
        }
    }

    /** Removes leftovers of unpacks or deletions interrupted by a crash. */
    public void sweep() {
        if (!Files.isDirectory(imagesDir)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(imagesDir, ".{tmp,del}-*")) {
            for (Path d : ds) {
                deleteQuietly(d);
            }
        } catch (IOException e) {
            // best effort; the next sweep tries again
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            SafeTarExtractor.deleteTree(p);
        } catch (IOException e) {
            // best effort
        }
    }
}
