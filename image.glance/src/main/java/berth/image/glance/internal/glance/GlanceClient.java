package berth.image.glance.internal.glance;

import berth.driver.api.ConflictException;
import berth.driver.api.EngineException;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * Glance's image API v2 over {@link HttpClient}: list (with {@code next} paging), show, create, upload
 * ({@code PUT /file}, streamed), download (streamed), delete, tags and property patches. Every failure becomes one
 * of driver.api's exceptions with a one-line message naming the source; no message carries a header value.
 */
final class GlanceClient {
    static final String PATCH_TYPE = "application/openstack-images-v2.1-json-patch";

    private final GlanceSettings settings;
    private final HttpClient http;
    private final Identity identity;
    private final ObjectMapper json;
    private final Watchdog watchdog;

    /** An image body that could not be received in full; its message is complete and goes to the user as is. */
    static final class BodyFailure extends IOException {
        private static final long serialVersionUID = 1L;

        BodyFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** One page of a listing. @param images the images @param next Glance's next link, or null at the end */
    record Page(List<JsonNode> images, String next) {
    }

    GlanceClient(GlanceSettings settings, HttpClient http, Identity identity, ObjectMapper json,
            Watchdog watchdog) {
        this.settings = settings;
        this.watchdog = watchdog;
        this.http = http;
        this.identity = identity;
        this.json = json;
    }

    Identity identity() {
        return identity;
    }

    /**
     * @param query Glance filters (name, container_format, ...), already strings
     * @param next  the previous page's next link, or null for the first page
     * @param limit page size
     */
    Page list(Map<String, String> query, String next, int limit) {
        String pathAndQuery;
        if (next != null) {
            pathAndQuery = next;
        } else {
            StringBuilder sb = new StringBuilder("/v2/images?limit=").append(limit);
            query.forEach((k, v) -> sb.append('&').append(enc(k)).append('=').append(enc(v)));
            pathAndQuery = sb.toString();
        }
        JsonNode body = sendJson("list images", s -> get(s, pathAndQuery), true);
        List<JsonNode> images = new ArrayList<>();
        body.path("images").forEach(images::add);
        String nextLink = body.path("next").asText(null);
        return new Page(images, nextLink == null || nextLink.isEmpty() ? null : nextLink);
    }

    JsonNode show(String id) {
        String path = "/v2/images/" + pathSegment(id);
        return sendJson("show image " + id, s -> get(s, path), true, id);
    }

    JsonNode create(ObjectNode body) {
        byte[] bytes = bytes(body);
        return sendJson("create image", s -> builder(s, "/v2/images")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), true);
    }

    /**
     * Streams {@code data} to {@code PUT /v2/images/{id}/file} in chunks: never replayed, never buffered whole.
     * Cancelled when nothing moves for the stall time (the request timeout cannot cover a long upload).
     */
    void upload(String id, InputStream data) {
        String what = "upload image " + id;
        String path = "/v2/images/" + pathSegment(id) + "/file";
        AtomicReference<CompletableFuture<?>> exchange = new AtomicReference<>();
        Watchdog.Watch watch = watchdog.watch(settings.stallTimeout(), () -> {
            CompletableFuture<?> f = exchange.get();
            if (f != null) {
                f.cancel(true);
            }
        });
        InputStream touched = new FilterInputStream(data) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                watch.touch();
                return b;
            }

            @Override
            public int read(byte[] buf, int off, int len) throws IOException {
                int n = super.read(buf, off, len);
                watch.touch();
                return n;
            }
        };
        Identity.Session session = identity.session();
        HttpRequest request = builder(session, path, null)
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> touched)).build();
        HttpResponse<byte[]> r;
        try (watch) {
            CompletableFuture<HttpResponse<byte[]>> f = http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray());
            exchange.set(f);
            if (watch.fired()) {
                f.cancel(true);
            }
            r = f.get();
        } catch (CancellationException e) {
            throw new EngineException("upload of image " + id + " to glance '" + settings.name() + "' stalled: nothing"
                    + " moved for " + settings.stallTimeout().toSeconds() + " s");
        } catch (ExecutionException e) {
            Throwable c = e.getCause() instanceof java.io.UncheckedIOException u ? u.getCause() : e.getCause();
            String why = c instanceof IOException io ? describe(io, settings)
                    : String.valueOf(c == null ? e.getMessage() : c.getMessage());
            throw new EngineException("upload of image " + id + " to glance '" + settings.name() + "' at "
                    + session.endpoint() + " failed: " + why.replaceAll("\\s+", " "));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted while uploading image " + id + " to glance '" + settings.name()
                    + "'");
        }
        if (r.statusCode() == 401) {
            throw new EngineException("glance '" + settings.name() + "' answered HTTP 401 to " + what + ": "
                    + identity.describeRefusal());
        }
        check(r.statusCode(), r.body(), what, id);
    }

    /**
     * Opens {@code GET /v2/images/{id}/file}. The caller reads and closes the body.
     *
     * @return the response whose body is the image's bytes
     */
    HttpResponse<InputStream> download(String id) {
        String path = "/v2/images/" + pathSegment(id) + "/file";
        String what = "download image " + id;
        HttpResponse<InputStream> r = send(what, s -> builder(s, path).header("Accept", "application/octet-stream")
                .GET().build(), HttpResponse.BodyHandlers.ofInputStream(), true);
        if (r.statusCode() == 200) {
            return r;
        }
        byte[] head;
        try (InputStream in = r.body()) {
            head = in.readNBytes(4096);
        } catch (IOException e) {
            head = new byte[0];
        }
        if (r.statusCode() == 204) {
            throw new EngineException("glance '" + settings.name() + "' has no data for image " + id);
        }
        check(r.statusCode(), head, what, id);
        throw new EngineException("glance '" + settings.name() + "' answered HTTP " + r.statusCode() + " to " + what);
    }

    /**
     * {@code GET /v2/images/{id}/file} with the body handed to {@code subscriber} (made when the answer is 200);
     * returns once all data arrived.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    void downloadInto(String id, java.util.function.Supplier<HttpResponse.BodySubscriber<Void>> subscriber) {
        String path = "/v2/images/" + pathSegment(id) + "/file";
        String what = "download image " + id;
        HttpResponse.BodyHandler<Object> handler = info -> info.statusCode() == 200
                ? (HttpResponse.BodySubscriber) subscriber.get()
                : (HttpResponse.BodySubscriber) HttpResponse.BodySubscribers.ofByteArray();
        HttpResponse<Object> r = send(what, s -> builder(s, path).header("Accept", "application/octet-stream")
                .GET().build(), handler, true);
        if (r.statusCode() == 200) {
            return;
        }
        if (r.statusCode() == 204) {
            throw new EngineException("glance '" + settings.name() + "' has no data for image " + id);
        }
        check(r.statusCode(), (byte[]) r.body(), what, id);
        throw new EngineException("glance '" + settings.name() + "' answered HTTP " + r.statusCode() + " to " + what);
    }

    void delete(String id) {
        String path = "/v2/images/" + pathSegment(id);
        HttpResponse<byte[]> r = send("delete image " + id, s -> builder(s, path).DELETE().build(),
                HttpResponse.BodyHandlers.ofByteArray(), true);
        check(r.statusCode(), r.body(), "delete image " + id, id);
    }

    void addTag(String id, String tag) {
        String path = "/v2/images/" + pathSegment(id) + "/tags/" + pathSegment(tag);
        HttpResponse<byte[]> r = send("tag image " + id, s -> builder(s, path)
                .PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofByteArray(), true);
        check(r.statusCode(), r.body(), "tag image " + id, id);
    }

    void removeTag(String id, String tag) {
        String path = "/v2/images/" + pathSegment(id) + "/tags/" + pathSegment(tag);
        HttpResponse<byte[]> r = send("untag image " + id, s -> builder(s, path).DELETE().build(),
                HttpResponse.BodyHandlers.ofByteArray(), true);
        check(r.statusCode(), r.body(), "untag image " + id, id);
    }

    /**
     * Sets and removes extra properties with one JSON patch.
     *
     * @param set    properties to add or replace
     * @param remove properties to remove
     * @param current the image as last shown, to choose between add and replace
     */
    JsonNode patchProperties(String id, JsonNode current, Map<String, String> set, List<String> remove) {
        ArrayNode ops = json.createArrayNode();
        set.forEach((k, v) -> ops.addObject().put("op", current.has(k) ? "replace" : "add")
                .put("path", "/" + jsonPointer(k)).put("value", v));
        for (String k : remove) {
            if (current.has(k)) {
                ops.addObject().put("op", "remove").put("path", "/" + jsonPointer(k));
            }
        }
        String path = "/v2/images/" + pathSegment(id);
        byte[] bytes = bytes(ops);
        return sendJson("update image " + id, s -> builder(s, path).header("Content-Type", PATCH_TYPE)
                .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), true, id);
    }

    // ----------------------------------------------------------------------------------------------- plumbing

    private JsonNode sendJson(String what, Function<Identity.Session, HttpRequest> request, boolean replayable) {
        return sendJson(what, request, replayable, null);
    }

    private JsonNode sendJson(String what, Function<Identity.Session, HttpRequest> request, boolean replayable,
            String imageId) {
        HttpResponse<byte[]> r = send(what, request, HttpResponse.BodyHandlers.ofByteArray(), replayable);
        check(r.statusCode(), r.body(), what, imageId);
        try {
            return json.readTree(r.body());
        } catch (IOException e) {
            throw new EngineException("glance '" + settings.name() + "' answered " + what + " with unreadable JSON");
        }
    }

    /** Sends with the identity's headers; after a 401 renews the identity and tries once more if it may help. */
    private <T> HttpResponse<T> send(String what, Function<Identity.Session, HttpRequest> request,
            HttpResponse.BodyHandler<T> handler, boolean replayable) {
        Identity.Session session = identity.session();
        HttpResponse<T> r = sendOnce(what, request.apply(session), handler, session);
        if (r.statusCode() != 401) {
            return r;
        }
        discard(r);
        if (replayable && identity.rejected(session)) {
            Identity.Session fresh = identity.session();
            r = sendOnce(what, request.apply(fresh), handler, fresh);
            if (r.statusCode() != 401) {
                return r;
            }
            discard(r);
        }
        throw new EngineException("glance '" + settings.name() + "' answered HTTP 401 to " + what + ": "
                + identity.describeRefusal());
    }

    private <T> HttpResponse<T> sendOnce(String what, HttpRequest request, HttpResponse.BodyHandler<T> handler,
            Identity.Session session) {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof BodyFailure f) {
                    throw new EngineException(f.getMessage());
                }
            }
            throw new EngineException("glance '" + settings.name() + "' at " + session.endpoint() + " failed to "
                    + what + ": " + describe(e, settings));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted while trying to " + what + " in glance '" + settings.name() + "'");
        }
    }

    private static void discard(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try {
                in.close();
            } catch (IOException e) {
                // nothing to keep from a refused response
            }
        }
    }

    private HttpRequest get(Identity.Session s, String pathAndQuery) {
        return builder(s, pathAndQuery).GET().build();
    }

    private HttpRequest.Builder builder(Identity.Session s, String pathAndQuery) {
        return builder(s, pathAndQuery, settings.requestTimeout());
    }

    private HttpRequest.Builder builder(Identity.Session s, String pathAndQuery, java.time.Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.endpoint() + pathAndQuery))
                .header("Accept", "application/json");
        if (timeout != null) {
            b.timeout(timeout);
        }
        s.headers().forEach(b::header);
        return b;
    }

    private void check(int status, byte[] body, String what, String imageId) {
        if (status >= 200 && status < 300) {
            return;
        }
        String detail = shortBody(body);
        String prefix = "glance '" + settings.name() + "' ";
        switch (status) {
            case 404 -> throw new NotFoundException(imageId != null
                    ? "image " + imageId + " not found in glance '" + settings.name() + "'"
                    : prefix + "answered 404 to " + what + " (is the endpoint right?)");
            case 409 -> throw new ConflictException(prefix + "refused to " + what + ": " + detail);
            case 400, 413, 415 -> throw new InvalidInputException(prefix + "refused to " + what + " (HTTP " + status
                    + "): " + detail);
            case 403 -> throw new EngineException(prefix + "forbids " + what + " (HTTP 403): " + detail);
            default -> throw new EngineException(prefix + "answered HTTP " + status + " to " + what
                    + (detail.isEmpty() ? "" : ": " + detail));
        }
    }

    /** One line from an error body: Glance answers with small HTML or JSON pages. */
    static String shortBody(byte[] body) {
        if (body == null || body.length == 0) {
            return "";
        }
        String s = new String(body, 0, Math.min(body.length, 4096), StandardCharsets.UTF_8)
                .replaceAll("(?s)<head>.*?</head>", " ")
                .replaceAll("<[^>]*>", " ")
                .replaceAll("\\s+", " ")
                .trim();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    static String describe(IOException e, GlanceSettings settings) {
        if (e instanceof HttpConnectTimeoutException) {
            return "no connection within " + settings.connectTimeout().toSeconds() + " s";
        }
        if (e instanceof HttpTimeoutException) {
            return "no answer within " + settings.requestTimeout().toSeconds() + " s";
        }
        if (e instanceof ConnectException) {
            return "connection refused";
        }
        String m = e.getMessage();
        return (m == null || m.isBlank() ? e.getClass().getSimpleName() : m).replaceAll("\\s+", " ");
    }

    private byte[] bytes(JsonNode node) {
        try {
            return json.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode JSON", e);
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String pathSegment(String s) {
        if (s == null || s.isEmpty()) {
            throw new InvalidInputException("an image id must not be empty");
        }
        return enc(s).replace("+", "%20");
    }

    private static String jsonPointer(String key) {
        return key.replace("~", "~0").replace("/", "~1");
    }
}
