package berth.image.glance.internal.local;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import berth.driver.api.ProgressListener;
import berth.driver.api.io.DurableFiles;
import berth.driver.api.spi.ImageSource;
import berth.driver.api.spi.LocalImage;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The embedded default image source: a directory per image under {@code ${berth.state.dir}/images/}, holding
 * {@code image.json} (Glance's fields) and {@code data}. An upload is written into a hidden staging directory and
 * renamed into place only when complete, so a half-written image is never listed; leftovers of a crash are swept
 * at start. Pins are durable ({@code pins.json}), so an image an instance uses cannot be deleted, even after a
 * restart.
 */
@Component(service = ImageSource.class, configurationPid = LocalImageStore.PID,
        property = {ImageSource.SOURCE + "=" + LocalImageStore.NAME, Constants.SERVICE_RANKING + ":Integer=0"})
@Designate(ocd = LocalImageStore.Config.class)
public final class LocalImageStore implements ImageSource {

    /** Configuration PID. */
    public static final String PID = "berth.image.local";
    /** Source name, the value of {@link ImageSource#SOURCE}. */
    public static final String NAME = "local";

    private static final Logger LOG = Logger.getLogger(LocalImageStore.class.getName());
    private static final Pattern UUID_RE = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final String META = "image.json";
    private static final String DATA = "data";
    private static final String PINS = "pins.json";
    private static final String STAGING = ".staging-";
    private static final String DELETING = ".deleting-";
    private static final String SEEDED = ".seeded";

    @ObjectClassDefinition(name = "Berth local image store")
    public @interface Config {
        @AttributeDefinition(description = "State directory; empty means the berth.state.dir property (default /var/lib/berth)")
        String state_dir() default "";

        @AttributeDefinition(description = "Seed the busybox images on first start")
        boolean seed() default true;

        @AttributeDefinition(description = "Static busybox the seed images are built from")
        String busybox() default "/bin/busybox";
    }

    private final Path root;
    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private final Object lock = new Object();

    @Activate
    public LocalImageStore(BundleContext context, Config config) {
        this(stateDir(context, config).resolve("images"), config.seed() ? Path.of(config.busybox()) : null);
    }

    /**
     * @param root    the store's directory, created if missing
     * @param busybox static busybox to seed from on first start, or {@code null} not to seed
     */
    public LocalImageStore(Path root, Path busybox) {
        this.root = root;
        try {
            Files.createDirectories(root);
            sweep();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot use image store " + root + ": " + e.getMessage(), e);
        }
        if (busybox != null) {
            seed(busybox);
        }
    }

    private static Path stateDir(BundleContext context, Config config) {
        String dir = config.state_dir();
        if (dir == null || dir.isBlank()) {
            dir = context.getProperty("berth.state.dir");
        }
        return Path.of(dir == null || dir.isBlank() ? "/var/lib/berth" : dir);
    }

    @Override
    public String name() {
        return NAME;
    }

    /** @return the store's directory */
    public Path root() {
        return root;
    }

    @Override
    public Optional<ImageInfo> find(String idOrName) {
        if (idOrName == null || idOrName.isBlank()) {
            return Optional.empty();
        }
        if (UUID_RE.matcher(idOrName).matches()) {
            Optional<ImageInfo> byId = read(idOrName).map(Stored::info);
            if (byId.isPresent()) {
                return byId;
            }
        }
        List<ImageInfo> named = list(new ImageQuery(idOrName, null, null, "active", null, Map.of(), 0));
        if (named.size() > 1) {
            throw new ConflictException(named.size() + " images are named '" + idOrName + "': use an id ("
                    + String.join(", ", named.stream().map(i -> i.id() + " " + i.containerFormat().wireName())
                            .toList()) + ")");
        }
        return named.stream().findFirst();
    }

    @Override
    public List<ImageInfo> list(ImageQuery query) {
        ImageQuery q = query == null ? ImageQuery.ALL : query;
        List<ImageInfo> result = new ArrayList<>();
        for (String id : ids()) {
            read(id).map(Stored::info).filter(q::matches).ifPresent(result::add);
        }
        result.sort(Comparator.comparing((ImageInfo i) -> i.created() == null ? Instant.EPOCH : i.created())
                .thenComparing(ImageInfo::id));
        return q.limit() > 0 && result.size() > q.limit() ? List.copyOf(result.subList(0, q.limit())) : result;
    }

    @Override
    public LocalImage acquire(String imageId, String holder, ProgressListener progress) {
        requireHolder(holder);
        Stored image = read(imageId).orElseThrow(() -> new NotFoundException("image " + imageId + " not found"));
        Path data = root.resolve(image.info().id()).resolve(DATA);
        Digests d;
        try (InputStream in = Files.newInputStream(data)) {
            d = Digests.of(in, progress == null ? ProgressListener.NONE : progress,
                    "verify " + label(image.info()), image.info().size());
        } catch (IOException e) {
            throw new EngineException("image " + imageId + ": cannot read its data: " + e.getMessage(), e);
        }
        if (d.size != image.info().size() || !d.md5.equals(image.info().checksum())
                || !d.sha512.equals(image.info().hashValue()) || !d.sha256.equals(image.sha256())) {
            throw new EngineException("image " + imageId + " is corrupt: its data does not match its checksums");
        }
        synchronized (lock) {
            if (read(imageId).isEmpty()) {
                throw new NotFoundException("image " + imageId + " was deleted");
            }
            Set<String> pins = pins(imageId);
            if (pins.add(holder)) {
                writePins(imageId, pins);
            }
        }
        return new LocalImage(image.info(), data, d.sha256);
    }

    @Override
    public void release(String imageId, String holder) {
        synchronized (lock) {
            if (read(imageId).isEmpty()) {
                return;
            }
            Set<String> pins = pins(imageId);
            if (pins.remove(holder)) {
                writePins(imageId, pins);
            }
        }
    }

    /**
     * @param imageId image id
     * @return the holders that pinned it
     */
    public Set<String> holders(String imageId) {
        synchronized (lock) {
            return Set.copyOf(pins(imageId));
        }
    }

    @Override
    public InputStream open(String imageId) {
        Stored image = read(imageId).orElseThrow(() -> new NotFoundException("image " + imageId + " not found"));
        try {
            return new VerifyingInputStream(Files.newInputStream(root.resolve(image.info().id()).resolve(DATA)),
                    image);
        } catch (IOException e) {
            throw new EngineException("image " + imageId + ": cannot read its data: " + e.getMessage(), e);
        }
    }

    @Override
    public ImageInfo upload(String name, ContainerFormat containerFormat, DiskFormat diskFormat,
            Map<String, String> properties, InputStream data, ProgressListener progress) {
        if (containerFormat == null || diskFormat == null || data == null) {
            throw new InvalidInputException("upload needs a container format, a disk format and data");
        }
        String id = UUID.randomUUID().toString();
        Path staging = root.resolve(STAGING + id);
        try {
            Files.createDirectory(staging);
            Digests d;
            try (OutputStream out = Files.newOutputStream(staging.resolve(DATA))) {
                d = Digests.copy(data, out, progress == null ? ProgressListener.NONE : progress,
                        "upload " + (name == null ? id : name));
            }
            try (var ch = java.nio.channels.FileChannel.open(staging.resolve(DATA),
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            ImageInfo info = new ImageInfo(id, name, NAME, containerFormat, diskFormat, d.size, d.md5, "sha512",
                    d.sha512, "active", List.of(), properties, Instant.now());
            DurableFiles.write(staging.resolve(META), json.writeValueAsBytes(toJson(info, d.sha256)));
            DurableFiles.syncDirectory(staging);
            Files.move(staging, root.resolve(id), StandardCopyOption.ATOMIC_MOVE);
            DurableFiles.syncDirectory(root);
            return info;
        } catch (IOException | RuntimeException e) {
            deleteTree(staging);
            if (e instanceof InvalidInputException ie) {
                throw ie;
            }
            throw new EngineException("upload of " + (name == null ? "image" : name) + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void delete(String imageId) {
        synchronized (lock) {
            Stored image = read(imageId).orElseThrow(() -> new NotFoundException("image " + imageId + " not found"));
            Set<String> pins = pins(imageId);
            if (!pins.isEmpty()) {
                throw new ConflictException("image " + label(image.info()) + " is in use by " + pins.size()
                        + " instance(s): " + String.join(", ", pins));
            }
            Path gone = root.resolve(DELETING + imageId);
            try {
                Files.move(root.resolve(imageId), gone, StandardCopyOption.ATOMIC_MOVE);
                DurableFiles.syncDirectory(root);
            } catch (IOException e) {
                throw new EngineException("cannot delete image " + imageId + ": " + e.getMessage(), e);
            }
            deleteTree(gone);
        }
    }

    /**
     * Builds and stores the two busybox images unless seeding was done before. Seeding again after a user deleted
     * them would be a surprise, hence the marker file.
     */
    private void seed(Path busybox) {
        Path marker = root.resolve(SEEDED);
        if (Files.exists(marker)) {
            return;
        }
        if (!Files.isRegularFile(busybox)) {
            LOG.warning("not seeding the busybox images: " + busybox + " is missing (install busybox-static)");
            return;
        }
        Path rootfs = null;
        Path archive = null;
        List<String> made = new ArrayList<>();
        try {
            rootfs = Files.createTempFile(root, ".seedtmp", ".tar");
            archive = Files.createTempFile(root, ".seedtmp", ".tar");
            BusyboxImages.writeRootfs(busybox, rootfs);
            BusyboxImages.writeDockerArchive(busybox, root, archive);
            Map<String, String> common = Map.of("os_distro", "busybox", "architecture", "x86_64",
                    "description", "Berth seed image built from " + busybox);
            try (InputStream in = Files.newInputStream(archive)) {
                made.add(upload("busybox", ContainerFormat.DOCKER, DiskFormat.RAW, common, in, null).id());
            }
            Map<String, String> bare = new LinkedHashMap<>(common);
            // A rootfs tarball has nowhere to keep a command, so the store records the seed's default as the
            // nova-docker property every backend honours.
            bare.put(ImageInfo.COMMAND_LINE, String.join(" ", BusyboxImages.DEFAULT_COMMAND));
            try (InputStream in = Files.newInputStream(rootfs)) {
                made.add(upload("busybox", ContainerFormat.BARE, DiskFormat.RAW, bare, in, null).id());
            }
            DurableFiles.write(marker, String.join("\n", made).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "seeding the busybox images failed: " + e.getMessage(), e);
            for (String id : made) {
                try {
                    delete(id);
                } catch (RuntimeException ignored) {
                    // best effort: the next start seeds again
                }
            }
        } finally {
            deleteQuietly(rootfs);
            deleteQuietly(archive);
        }
    }

    private void sweep() throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
            for (Path p : entries) {
                String n = p.getFileName().toString();
                if (n.startsWith(STAGING) || n.startsWith(DELETING) || n.startsWith(".seedtmp") || n.startsWith(".layer")) {
                    deleteTree(p);
                }
            }
        }
    }

    private List<String> ids() {
        List<String> ids = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
            for (Path p : entries) {
                String n = p.getFileName().toString();
                if (UUID_RE.matcher(n).matches()) {
                    ids.add(n);
                }
            }
        } catch (IOException e) {
            throw new EngineException("cannot list image store " + root + ": " + e.getMessage(), e);
        }
        return ids;
    }

    private record Stored(ImageInfo info, String sha256) {
    }

    private Optional<Stored> read(String id) {
        if (id == null || !UUID_RE.matcher(id).matches()) {
            return Optional.empty();
        }
        Path meta = root.resolve(id).resolve(META);
        try {
            Map<String, Object> m = json.readValue(meta.toFile(), new TypeReference<Map<String, Object>>() { });
            return Optional.of(fromJson(m));
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            LOG.warning("ignoring image " + id + ": unreadable " + META + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private static Map<String, Object> toJson(ImageInfo i, String sha256) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", i.id());
        m.put("name", i.name());
        m.put("container_format", i.containerFormat().wireName());
        m.put("disk_format", i.diskFormat().wireName());
        m.put("size", i.size());
        m.put("checksum", i.checksum());
        m.put("os_hash_algo", i.hashAlgo());
        m.put("os_hash_value", i.hashValue());
        m.put("sha256", sha256);
        m.put("status", i.status());
        m.put("tags", i.tags());
        m.put("properties", new java.util.TreeMap<>(i.properties()));
        m.put("created_at", i.created() == null ? null : i.created().toString());
        return m;
    }

    @SuppressWarnings("unchecked")
    private static Stored fromJson(Map<String, Object> m) {
        Object created = m.get("created_at");
        ImageInfo info = new ImageInfo((String) m.get("id"), (String) m.get("name"), NAME,
                ContainerFormat.of((String) m.get("container_format")), DiskFormat.of((String) m.get("disk_format")),
                ((Number) m.get("size")).longValue(), (String) m.get("checksum"), (String) m.get("os_hash_algo"),
                (String) m.get("os_hash_value"), (String) m.get("status"), (List<String>) m.get("tags"),
                (Map<String, String>) m.get("properties"), created == null ? null : Instant.parse((String) created));
        return new Stored(info, (String) m.get("sha256"));
    }

    private Set<String> pins(String id) {
        Path p = root.resolve(id).resolve(PINS);
        if (!Files.exists(p)) {
            return new TreeSet<>();
        }
        try {
            return new TreeSet<>(json.readValue(p.toFile(), new TypeReference<List<String>>() { }));
        } catch (IOException e) {
            throw new EngineException("image " + id + ": unreadable " + PINS + ": " + e.getMessage(), e);
        }
    }

    private void writePins(String id, Set<String> pins) {
        try {
            DurableFiles.write(root.resolve(id).resolve(PINS), json.writeValueAsBytes(List.copyOf(pins)));
        } catch (IOException e) {
            throw new EngineException("image " + id + ": cannot record its holders: " + e.getMessage(), e);
        }
    }

    private static void requireHolder(String holder) {
        if (holder == null || holder.isBlank()) {
            throw new InvalidInputException("an image is acquired for a holder (an instance uuid)");
        }
    }

    private static String label(ImageInfo i) {
        return i.name() == null ? i.id() : i.name() + " (" + i.id() + ")";
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temporary file; swept at the next start
            }
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | UncheckedIOException e) {
            LOG.warning("cannot remove " + dir + ": " + e.getMessage());
        }
    }

    /** The three digests of one pass over the data. */
    static final class Digests {
        long size;
        String md5;
        String sha512;
        String sha256;

        static Digests of(InputStream in, ProgressListener progress, String what, long total) throws IOException {
            return copy(in, OutputStream.nullOutputStream(), progress, what, total);
        }

        static Digests copy(InputStream in, OutputStream out, ProgressListener progress, String what)
                throws IOException {
            return copy(in, out, progress, what, -1);
        }

        static Digests copy(InputStream in, OutputStream out, ProgressListener progress, String what, long total)
                throws IOException {
            MessageDigest md5 = BusyboxImages.digest("MD5");
            MessageDigest sha512 = BusyboxImages.digest("SHA-512");
            MessageDigest sha256 = BusyboxImages.digest("SHA-256");
            byte[] buf = new byte[64 * 1024];
            long done = 0;
            long lastReport = 0;
            for (int n; (n = in.read(buf)) >= 0; ) {
                md5.update(buf, 0, n);
                sha512.update(buf, 0, n);
                sha256.update(buf, 0, n);
                out.write(buf, 0, n);
                done += n;
                if (done - lastReport >= 1 << 20) {
                    progress.progress(what, done, total);
                    lastReport = done;
                }
            }
            progress.progress(what, done, total);
            Digests d = new Digests();
            HexFormat hex = HexFormat.of();
            d.size = done;
            d.md5 = hex.formatHex(md5.digest());
            d.sha512 = hex.formatHex(sha512.digest());
            d.sha256 = hex.formatHex(sha256.digest());
            return d;
        }
    }

    /** Passes the data through and fails at its end if it does not match the image's checksums. */
    private static final class VerifyingInputStream extends FilterInputStream {
        private final Stored image;
        private final MessageDigest md5 = BusyboxImages.digest("MD5");
        private final MessageDigest sha512 = BusyboxImages.digest("SHA-512");
        private long size;
        private boolean checked;

        VerifyingInputStream(InputStream in, Stored image) {
            super(in);
            this.image = image;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                md5.update(b, off, n);
                sha512.update(b, off, n);
                size += n;
            } else if (n < 0 && !checked) {
                checked = true;
                HexFormat hex = HexFormat.of();
                if (size != image.info().size() || !hex.formatHex(md5.digest()).equals(image.info().checksum())
                        || !hex.formatHex(sha512.digest()).equals(image.info().hashValue())) {
                    throw new IOException("image " + image.info().id() + " is corrupt: checksum mismatch");
                }
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            byte[] buf = new byte[(int) Math.min(8192, Math.max(n, 1))];
            long left = n;
            while (left > 0) {
                int r = read(buf, 0, (int) Math.min(buf.length, left));
                if (r < 0) {
                    break;
                }
                left -= r;
            }
            return n - left;
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }
}
