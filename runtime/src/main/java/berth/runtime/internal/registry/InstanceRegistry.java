package berth.runtime.internal.registry;

import berth.driver.api.VmState;
import berth.driver.api.io.DurableFiles;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Durable instance records, one JSON file per instance: {@code <dir>/<uuid>.json}. Every {@link #put} is written
 * with {@link DurableFiles} (temp file, fsync, rename, fsync of the directory) before it returns, so a record
 * whose write returned survives a {@code kill -9} or a power loss. Records of deleted instances are kept (vm state
 * DELETED) but are not {@link #live() live}.
 *
 * <p>Thread safety: any method may be called from any thread; writes of one record are serialised, writes of
 * different records run in parallel. Callers serialise the read-modify-write of one instance themselves (the
 * compute manager's per-instance lock).
 */
public final class InstanceRegistry {

    private static final System.Logger LOG = System.getLogger(InstanceRegistry.class.getName());
    /** What {@link DurableFiles} leaves behind when the process dies between create and rename. */
    private static final Pattern TEMP = Pattern.compile("\\..*\\.tmp");
    private static final Pattern RECORD =
            Pattern.compile("([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\\.json");

    private final Path dir;
    private final ObjectMapper json;
    private final Map<String, InstanceRecord> records = new ConcurrentHashMap<>();
    private final Map<String, Object> writeLocks = new ConcurrentHashMap<>();
    private final List<String> problems;

    /**
     * Opens the registry in {@code dir}, creating it if needed, and loads every record. Temporary files left by
     * a crash are removed; a record file that does not parse is left in place and reported by
     * {@link #problems()}.
     *
     * @param dir the registry directory, normally {@code ${berth.state.dir}/registry}
     * @throws UncheckedIOException when the directory cannot be created or read
     */
    public InstanceRegistry(Path dir) {
        this.dir = dir.toAbsolutePath();
        this.json = mapper();
        try {
            Files.createDirectories(this.dir);
            try {
                // records carry user metadata (the workload's environment): root only
                Files.setPosixFilePermissions(this.dir, PosixFilePermissions.fromString("rwx------"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX filesystem: its own rules apply
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create registry directory " + this.dir, e);
        }
        this.problems = List.copyOf(load());
    }

    static ObjectMapper mapper() {
        SimpleModule time = new SimpleModule("berth-instant");
        time.addSerializer(Instant.class, new JsonSerializer<Instant>() {
            @Override
            public void serialize(Instant value, JsonGenerator gen, SerializerProvider serializers)
                    throws IOException {
                gen.writeString(value.toString());
            }
        });
        time.addDeserializer(Instant.class, new JsonDeserializer<Instant>() {
            @Override
            public Instant deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
                return Instant.parse(p.getValueAsString());
            }
        });
        return new ObjectMapper().registerModule(time)
                .enable(SerializationFeature.INDENT_OUTPUT)
                // a newer build may add fields; an older one must still read the rest
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    }

    private List<String> load() {
        List<String> found = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String fileName = f.getFileName().toString();
                if (TEMP.matcher(fileName).matches()) {
                    // a write that never reached its rename: it never returned, so nobody was told it happened
                    LOG.log(Level.INFO, "removing leftover temporary file {0}", f);
                    Files.deleteIfExists(f);
                    continue;
                }
                var m = RECORD.matcher(fileName);
                if (!m.matches()) {
                    continue;
                }
                try {
                    InstanceRecord r = json.readValue(f.toFile(), InstanceRecord.class);
                    if (!r.uuid().equals(m.group(1))) {
                        throw new IOException("holds uuid " + r.uuid());
                    }
                    records.put(r.uuid(), r);
                } catch (IOException | RuntimeException e) {
                    String msg = "unreadable instance record " + f + ": " + oneLine(e.getMessage());
                    LOG.log(Level.WARNING, msg);
                    found.add(msg);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read registry directory " + dir, e);
        }
        return found;
    }

    private static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        String line = s.replaceAll("\\s+", " ").trim();
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    /** @return the registry directory */
    public Path directory() {
        return dir;
    }

    /** @return what went wrong while loading (one line each), empty when every file loaded */
    public List<String> problems() {
        return problems;
    }

    /**
     * Writes a record durably and makes it current. Returns only once the record is on disk.
     *
     * @param r the record
     * @return {@code r}
     * @throws UncheckedIOException when it cannot be written; the previous record then stays current
     */
    public InstanceRecord put(InstanceRecord r) {
        Object lock = writeLocks.computeIfAbsent(r.uuid(), k -> new Object());
        synchronized (lock) {
            try {
                byte[] bytes = json.writeValueAsBytes(r);
                DurableFiles.write(fileOf(r.uuid()), bytes);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write instance record " + r.uuid() + ": " + e.getMessage(),
                        e);
            }
            records.put(r.uuid(), r);
            return r;
        }
    }

    /**
     * @param uuid instance uuid
     * @return its record, deleted ones included
     */
    public Optional<InstanceRecord> get(String uuid) {
        return uuid == null ? Optional.empty() : Optional.ofNullable(records.get(uuid));
    }

    /** @return every record, deleted ones included, oldest first */
    public List<InstanceRecord> all() {
        List<InstanceRecord> list = new ArrayList<>(records.values());
        list.sort(Comparator.comparing(InstanceRecord::created).thenComparing(InstanceRecord::uuid));
        return list;
    }

    /** @return records of instances that are not deleted, oldest first */
    public List<InstanceRecord> live() {
        return all().stream().filter(r -> r.vmState() != VmState.DELETED).toList();
    }

    /**
     * Removes a record for good (file and memory). Used only for records that must not be kept at all.
     *
     * @param uuid instance uuid
     */
    public void purge(String uuid) {
        Object lock = writeLocks.computeIfAbsent(uuid, k -> new Object());
        synchronized (lock) {
            try {
                DurableFiles.delete(fileOf(uuid));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete instance record " + uuid + ": " + e.getMessage(), e);
            }
            records.remove(uuid);
        }
    }

    private Path fileOf(String uuid) {
        if (!RECORD.matcher(uuid + ".json").matches()) {
            throw new IllegalArgumentException("not an instance uuid: " + uuid);
        }
        return dir.resolve(uuid + ".json");
    }
}
