package berth.image.glance.internal.glance;

import berth.driver.api.ConflictException;
import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import berth.driver.api.ProgressListener;
import berth.driver.api.spi.ImageSource;
import berth.driver.api.spi.LocalImage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * An image source backed by one Glance endpoint (API v2). One instance per factory configuration of
 * {@code berth.image.glance}; it registers as {@link ImageSource} with {@code berth.image.source=<name>} and
 * service ranking 10, above the local store. Downloads land in a verified cache under
 * {@code ${berth.state.dir}/image-cache/<name>/}.
 */
@Designate(ocd = GlanceImageSource.Config.class, factory = true)
@Component(configurationPid = GlanceImageSource.PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        service = ImageSource.class,
        property = {"service.ranking:Integer=10", ImageSource.SOURCE + "=glance"})
public class GlanceImageSource implements ImageSource {
    /** Factory PID of the configuration. */
    public static final String PID = "berth.image.glance";

    private static final System.Logger LOG = System.getLogger(GlanceImageSource.class.getName());
    private static final Pattern UUID = Pattern.compile(
            "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}");
    private static final Set<String> STANDARD = Set.of("id", "name", "status", "visibility", "protected",
            "os_hidden", "checksum", "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_ram",
            "min_disk", "container_format", "disk_format", "created_at", "updated_at", "tags", "direct_url",
            "locations", "self", "file", "schema", "stores");
    /** Query parameters Glance reads itself, so a property of that name can only be filtered here. */
    private static final Set<String> RESERVED_QUERY = Set.of("limit", "marker", "sort", "sort_key", "sort_dir",
            "name", "status", "visibility", "member_status", "owner", "tag", "size_min", "size_max", "id",
            "container_format", "disk_format", "os_hidden", "protected", "created_at", "updated_at", "checksum",
            "os_hash_value");

    /** Configuration of one Glance endpoint. Keys with a leading dot are private: never service properties. */
    @ObjectClassDefinition(name = "Berth Glance image source",
            description = "One Glance endpoint (API v2); create one factory configuration per endpoint.")
    public @interface Config {
        @AttributeDefinition(name = "Source name", description = "Name of this source, published as the service"
                + " property berth.image.source (lower case; 'local' is taken)")
        String berth_image_source() default "glance";

        @AttributeDefinition(description = "keystone (v3 password, endpoint from the catalog), token (endpoint"
                + " and token given here) or noauth (identity headers, only for trusted test installs)")
        String auth() default "keystone";

        @AttributeDefinition(required = false, description = "Glance URL, e.g. http://127.0.0.1:9292; needed for"
                + " token and noauth, overrides the catalog for keystone")
        String endpoint() default "";

        @AttributeDefinition(required = false, description = "Keystone URL, e.g. http://127.0.0.1:5000/v3")
        String keystone_url() default "";

        @AttributeDefinition(required = false)
        String username() default "";

        @AttributeDefinition(required = false, type = AttributeType.PASSWORD,
                description = "Keystone password (private property '.password')")
        String _password() default "";

        @AttributeDefinition(required = false, description = "Domain name of the user")
        String user_domain() default "Default";

        @AttributeDefinition(required = false, description = "Project (name) the token is scoped to")
        String project() default "";

        @AttributeDefinition(required = false, description = "Domain name of the project")
        String project_domain() default "Default";

        @AttributeDefinition(required = false, description = "Catalog interface: public, internal or admin")
        String catalog_interface() default "public";

        @AttributeDefinition(required = false, description = "Catalog region; empty takes the first match")
        String catalog_region() default "";

        @AttributeDefinition(required = false, type = AttributeType.PASSWORD,
                description = "Token for auth=token (private property '.token')")
        String _token() default "";

        @AttributeDefinition(required = false, description = "auth=noauth: project id sent as X-Project-Id")
        String noauth_project() default "berth";

        @AttributeDefinition(required = false, description = "auth=noauth: roles sent as X-Roles, comma separated")
        String noauth_roles() default "member,reader";

        @AttributeDefinition(required = false, description = "Image cache size limit in MB (held images may"
                + " exceed it; they are never evicted)")
        long cache_max_mb() default 10240;

        @AttributeDefinition(required = false, description = "State directory; empty uses the berth.state.dir"
                + " property (default /var/lib/berth)")
        String state_dir() default "";

        @AttributeDefinition(required = false)
        int timeout_connect_seconds() default 10;

        @AttributeDefinition(required = false, description = "Wait at most this long for an answer's headers")
        int timeout_request_seconds() default 60;

        @AttributeDefinition(required = false, description = "Abort a transfer when no byte moved this long")
        int timeout_stall_seconds() default 60;

        @AttributeDefinition(required = false, description = "Renew the Keystone token this long before expiry")
        int token_renew_seconds() default 300;

        @AttributeDefinition(required = false, description = "Images per request when listing")
        int page_size() default 100;
    }

    private final GlanceSettings settings;
    private final ObjectMapper json = new ObjectMapper();
    private final ExecutorService httpThreads;
    private final Watchdog watchdog;
    private final Identity identity;
    private final GlanceClient client;
    private final ImageCache cache;

    /**
     * @param config     the factory configuration
     * @param context    for {@code berth.state.dir}
     * @param properties the raw configuration, checked for secrets under public keys
     */
    @Activate
    public GlanceImageSource(Config config, BundleContext context, Map<String, Object> properties) {
        this(settings(config, context::getProperty, properties), Clock.systemUTC());
    }

    GlanceImageSource(GlanceSettings settings, Clock clock) {
        this.settings = settings;
        AtomicInteger n = new AtomicInteger();
        this.httpThreads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "berth-glance-" + settings.name() + "-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.watchdog = new Watchdog(settings.name());
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(httpThreads)
                .build();
        this.identity = switch (settings.auth()) {
            case KEYSTONE -> new KeystoneIdentity(settings, http, json, clock);
            case TOKEN -> new TokenIdentity(settings.endpoint(), settings.token());
            case NOAUTH -> new TrustedHeadersIdentity(settings.endpoint(), settings.trustedProject(),
                    settings.trustedRoles());
        };
        this.client = new GlanceClient(settings, http, identity, json, watchdog);
        try {
            this.cache = new ImageCache(settings.cacheDir(), settings.cacheMaxBytes(), json, clock);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        LOG.log(Level.INFO, () -> "glance image source '" + settings.name() + "': auth " + settings.auth()
                + ", " + (settings.auth() == GlanceSettings.AuthMode.KEYSTONE ? "keystone " + settings.keystoneUrl()
                        : "endpoint " + settings.endpoint()) + ", cache " + settings.cacheDir());
    }

    static GlanceSettings settings(Config c, Function<String, String> frameworkProperty,
            Map<String, Object> properties) {
        for (String exposed : List.of("password", "token")) {
            if (properties != null && properties.containsKey(exposed)) {
                throw new IllegalArgumentException("configure '." + exposed + "', not '" + exposed
                        + "': keys without the leading dot are published as service properties");
            }
        }
        String stateDir = !c.state_dir().isBlank() ? c.state_dir()
                : Optional.ofNullable(frameworkProperty.apply("berth.state.dir")).filter(s -> !s.isBlank())
                        .orElse("/var/lib/berth");
        String name = c.berth_image_source();
        return new GlanceSettings(name, GlanceSettings.AuthMode.parse(c.auth()), uri(c.endpoint(), "endpoint"),
                uri(c.keystone_url(), "keystone.url"), blankToNull(c.username()), Secret.of(c._password()),
                c.user_domain(), blankToNull(c.project()), c.project_domain(), c.catalog_interface(),
                blankToNull(c.catalog_region()), Secret.of(c._token()), c.noauth_project(),
                Arrays.stream(c.noauth_roles().split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList(),
                Path.of(stateDir, "image-cache", name == null ? "" : name), c.cache_max_mb() * 1024L * 1024L,
                Duration.ofSeconds(c.timeout_connect_seconds()), Duration.ofSeconds(c.timeout_request_seconds()),
                Duration.ofSeconds(c.timeout_stall_seconds()), Duration.ofSeconds(c.token_renew_seconds()),
                c.page_size());
    }

    private static URI uri(String s, String key) {
        if (s == null || s.isBlank()) {
            return null;
        }
        try {
            return URI.create(s.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + " is not a URL: '" + s + "'");
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    @Deactivate
    void close() {
        watchdog.close();
        httpThreads.shutdownNow();
    }

    @Override
    public String name() {
        return settings.name();
    }

    @Override
    public Optional<ImageInfo> find(String idOrName) {
        if (idOrName == null || idOrName.isBlank()) {
            throw new InvalidInputException("an image id or name is needed");
        }
        if (UUID.matcher(idOrName).matches()) {
            try {
                return info(client.show(idOrName), true);
            } catch (NotFoundException e) {
                // not an id here; it may still be a name
            }
        }
        List<ImageInfo> named = list(new ImageQuery(idOrName, null, null, "active", null, Map.of(), 0));
        if (named.size() > 1) {
            throw new ConflictException(named.size() + " active images are named '" + idOrName + "' in glance '"
                    + name() + "' (" + String.join(", ", named.stream().map(ImageInfo::id).toList())
                    + "); use an id");
        }
        return named.stream().findFirst();
    }

    @Override
    public List<ImageInfo> list(ImageQuery query) {
        ImageQuery q = query == null ? ImageQuery.ALL : query;
        Map<String, String> filters = new LinkedHashMap<>();
        if (q.name() != null) {
            filters.put("name", q.name());
        }
        if (q.containerFormat() != null) {
            filters.put("container_format", q.containerFormat().wireName());
        }
        if (q.diskFormat() != null) {
            filters.put("disk_format", q.diskFormat().wireName());
        }
        if (q.status() != null) {
            filters.put("status", q.status());
        }
        if (q.tag() != null) {
            filters.put("tag", q.tag());
        }
        q.properties().forEach((k, v) -> {
            if (!RESERVED_QUERY.contains(k)) {
                filters.put(k, v);
            }
        });
        int want = q.limit() == 0 ? Integer.MAX_VALUE : q.limit();
        List<ImageInfo> out = new ArrayList<>();
        String next = null;
        for (int pages = 0; pages < 100_000; pages++) {
            GlanceClient.Page page = client.list(filters, next, settings.pageSize());
            for (JsonNode n : page.images()) {
                info(n, false).filter(q::matches).ifPresent(out::add);
                if (out.size() >= want) {
                    return out;
                }
            }
            next = page.next();
            if (next == null || page.images().isEmpty()) {
                break;
            }
        }
        return out;
    }

    @Override
    public LocalImage acquire(String imageId, String holder, ProgressListener progress) {
        if (holder == null || holder.isBlank()) {
            throw new InvalidInputException("acquiring an image needs a holder");
        }
        ImageInfo info = show(imageId);
        if (!"active".equals(info.status())) {
            throw new ConflictException("image " + imageId + " in glance '" + name() + "' is " + info.status()
                    + ", not active");
        }
        String what = "image " + info.id() + " from glance '" + name() + "'";
        return cache.acquire(info, what, holder, sink -> client.downloadInto(info.id(), () -> {
            SinkSubscriber s = new SinkSubscriber(sink, what, info.size());
            s.watch(watchdog.watch(settings.stallTimeout(), s::stall));
            return s;
        }), () -> confirmUnchanged(info), progress);
    }

    @Override
    public void release(String imageId, String holder) {
        cache.release(imageId, holder);
    }

    @Override
    public InputStream open(String imageId) {
        ImageInfo info = show(imageId);
        if (!"active".equals(info.status())) {
            throw new ConflictException("image " + imageId + " in glance '" + name() + "' is " + info.status()
                    + ", not active");
        }
        WatchedInputStream watched = openWatched(info);
        return new VerifyingInputStream(watched, watched.what(), info);
    }

    @Override
    public ImageInfo upload(String name, ContainerFormat containerFormat, DiskFormat diskFormat,
            Map<String, String> properties, InputStream data, ProgressListener progress) {
        if (containerFormat == null || diskFormat == null || data == null) {
            throw new InvalidInputException("an upload needs a container format, a disk format and data");
        }
        ObjectNode body = json.createObjectNode();
        if (properties != null) {
            properties.forEach(body::put);
        }
        if (name != null) {
            body.put("name", name);
        }
        body.put("container_format", containerFormat.wireName());
        body.put("disk_format", diskFormat.wireName());
        String id = client.create(body).path("id").asText();
        if (id.isEmpty()) {
            throw new EngineException("glance '" + name() + "' created an image without an id");
        }
        try {
            ImageDigests digests = new ImageDigests("sha512", false);
            ImageCache.Progress p = new ImageCache.Progress(progress, "upload " + (name != null ? name : id), -1);
            InputStream digesting = new FilterInputStream(data) {
                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    int n = read(one, 0, 1);
                    return n < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = in.read(b, off, len);
                    if (n > 0) {
                        digests.update(b, off, n);
                        p.update(digests.count());
                    }
                    return n;
                }
            };
            client.upload(id, digesting);
            p.done(digests.count());
            ImageDigests.Result sent = digests.finish();
            JsonNode stored = client.show(id);
            ImageInfo after = info(stored, true).orElseThrow();
            if (!"active".equals(after.status())) {
                throw new EngineException("image " + id + " in glance '" + name() + "' is " + after.status()
                        + " after the upload, not active");
            }
            try {
                ImageDigests.verify("image " + id + " as stored by glance '" + name() + "'", after, sent);
            } catch (ImageDigests.MismatchException e) {
                throw new EngineException(e.getMessage());
            }
            return after;
        } catch (RuntimeException e) {
            try {
                client.delete(id);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    @Override
    public void delete(String imageId) {
        client.delete(imageId);
        cache.evictImage(imageId);
    }

    // --------------------------------------------------------- tags and properties (Glance v2, not in the SPI)

    void addTag(String imageId, String tag) {
        client.addTag(imageId, tag);
    }

    void removeTag(String imageId, String tag) {
        client.removeTag(imageId, tag);
    }

    ImageInfo updateProperties(String imageId, Map<String, String> set, List<String> remove) {
        JsonNode current = client.show(imageId);
        return info(client.patchProperties(imageId, current, set, remove), true).orElseThrow();
    }

    Identity identity() {
        return identity;
    }

    ImageCache cache() {
        return cache;
    }

    GlanceSettings settings() {
        return settings;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private ImageInfo show(String imageId) {
        if (imageId == null || imageId.isBlank()) {
            throw new InvalidInputException("an image id is needed");
        }
        return info(client.show(imageId), true).orElseThrow();
    }

    private WatchedInputStream openWatched(ImageInfo info) {
        HttpResponse<InputStream> r = client.download(info.id());
        InputStream body = r.body();
        Watchdog.Watch watch = watchdog.watch(settings.stallTimeout(), () -> {
            try {
                body.close();
            } catch (IOException e) {
                // the reader sees the stall either way
            }
        });
        return new WatchedInputStream(body, "image " + info.id() + " from glance '" + name() + "'", info.size(),
                watch);
    }

    private void confirmUnchanged(ImageInfo downloaded) {
        ImageInfo now;
        try {
            now = show(downloaded.id());
        } catch (NotFoundException e) {
            throw new NotFoundException("image " + downloaded.id() + " was deleted from glance '" + name()
                    + "' during the download");
        }
        if (!"active".equals(now.status())) {
            throw new EngineException("image " + downloaded.id() + " became " + now.status() + " in glance '"
                    + name() + "' during the download");
        }
        if (!java.util.Objects.equals(now.checksum(), downloaded.checksum())) {
            throw new EngineException("image " + downloaded.id() + " changed in glance '" + name()
                    + "' during the download");
        }
    }

    /**
     * @param strict throw for an image Berth cannot use (rather than skipping it, as listings do)
     */
    Optional<ImageInfo> info(JsonNode n, boolean strict) {
        String id = n.path("id").asText();
        String cf = text(n, "container_format");
        String df = text(n, "disk_format");
        ContainerFormat c;
        DiskFormat d;
        try {
            c = ContainerFormat.of(cf);
            d = DiskFormat.of(df);
        } catch (InvalidInputException e) {
            if (strict) {
                throw new InvalidInputException("image " + id + " in glance '" + name() + "' has container_format '"
                        + cf + "' and disk_format '" + df + "'; Berth boots docker or bare, raw or root-tar");
            }
            return Optional.empty();
        }
        List<String> tags = new ArrayList<>();
        n.path("tags").forEach(t -> tags.add(t.asText()));
        Map<String, String> props = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!STANDARD.contains(f.getKey()) && !f.getValue().isNull()) {
                props.put(f.getKey(), f.getValue().isTextual() ? f.getValue().asText() : f.getValue().toString());
            }
        }
        Instant created = null;
        try {
            String s = text(n, "created_at");
            created = s == null ? null : Instant.parse(s);
        } catch (DateTimeParseException e) {
            // not worth refusing an image for
        }
        long size = n.path("size").isNumber() ? n.path("size").asLong() : -1;
        return Optional.of(new ImageInfo(id, text(n, "name"), name(), c, d, size, text(n, "checksum"),
                text(n, "os_hash_algo"), text(n, "os_hash_value"), n.path("status").asText("unknown"), tags, props,
                created));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    @Override
    public String toString() {
        return "GlanceImageSource[" + settings.name() + ", " + settings.auth() + "]";
    }
}
