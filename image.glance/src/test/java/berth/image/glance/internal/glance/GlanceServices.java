package berth.image.glance.internal.glance;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * Where the real services started by {@code bin/services/glance start} are. Each value comes from a system
 * property, else an environment variable, else the script's fixed default. When a service does not answer the
 * test fails if {@code CI=true}, and is skipped otherwise.
 */
final class GlanceServices {
    static final String GLANCE_URL = value("berth.test.glance.url", "BERTH_TEST_GLANCE_URL", "http://127.0.0.1:19292");
    static final String GLANCE_AUTH_URL = value("berth.test.glance.auth.url", "BERTH_TEST_GLANCE_AUTH_URL",
            "http://127.0.0.1:19293");
    static final String KEYSTONE_URL = value("berth.test.keystone.url", "BERTH_TEST_KEYSTONE_URL",
            "http://127.0.0.1:15000/v3");
    static final String USER = value("berth.test.keystone.user", "BERTH_TEST_KEYSTONE_USER", "berth-test");
    static final String PASSWORD = value("berth.test.keystone.password", "BERTH_TEST_KEYSTONE_PASSWORD",
            "berth-test-pw");
    static final String PROJECT = value("berth.test.keystone.project", "BERTH_TEST_KEYSTONE_PROJECT", "berth-test");
    static final String ADMIN_PASSWORD = value("berth.test.keystone.admin.password",
            "BERTH_TEST_KEYSTONE_ADMIN_PASSWORD", "berth-admin-pw");
    static final String REGION = value("berth.test.keystone.region", "BERTH_TEST_KEYSTONE_REGION", "RegionOne");

    private GlanceServices() {
    }

    private static String value(String property, String env, String dflt) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) {
            v = System.getenv(env);
        }
        return v == null || v.isBlank() ? dflt : v;
    }

    /** Fails (CI=true) or skips the calling test when the service at {@code url} does not accept connections. */
    static void require(String url, String what) {
        URI u = URI.create(url);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 2000);
            return;
        } catch (IOException e) {
            String msg = what + " is not answering at " + url + " (start it with: bin/services/glance start)";
            if ("true".equals(System.getenv("CI"))) {
                fail(msg);
            }
            Assumptions.abort(msg);
        }
    }

    static GlanceSettings noauth(String name, URI endpoint, Path stateDir, String project, List<String> roles,
            long cacheBytes, Duration requestTimeout, Duration stall) {
        return new GlanceSettings(name, GlanceSettings.AuthMode.NOAUTH, endpoint, null, null, null, null, null, null,
                null, null, null, project, roles, stateDir.resolve("image-cache").resolve(name), cacheBytes,
                Duration.ofSeconds(5), requestTimeout, stall, Duration.ofMinutes(5), 100);
    }

    static GlanceSettings noauth(String name, Path stateDir, String project) {
        return noauth(name, URI.create(GLANCE_URL), stateDir, project, List.of("member", "reader"), 1L << 30,
                Duration.ofSeconds(30), Duration.ofSeconds(30));
    }

    static GlanceSettings keystone(String name, Path stateDir, String password, Duration renewMargin, int pageSize) {
        return new GlanceSettings(name, GlanceSettings.AuthMode.KEYSTONE, null, URI.create(KEYSTONE_URL), USER,
                Secret.of(password), "Default", PROJECT, "Default", "public", REGION, null, null, null,
                stateDir.resolve("image-cache").resolve(name), 1L << 30, Duration.ofSeconds(5), Duration.ofSeconds(30),
                Duration.ofSeconds(30), renewMargin, pageSize);
    }

    static GlanceSettings token(String name, Path stateDir, URI endpoint, String token) {
        return new GlanceSettings(name, GlanceSettings.AuthMode.TOKEN, endpoint, null, null, null, null, null, null,
                null, null, Secret.of(token), null, null, stateDir.resolve("image-cache").resolve(name), 1L << 30,
                Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMinutes(5), 100);
    }

    static GlanceImageSource source(GlanceSettings settings) {
        return new GlanceImageSource(settings, Clock.systemUTC());
    }

    /** A project-scoped token for the test user, straight from Keystone. */
    static String issueToken(String user, String password, String project) throws Exception {
        String body = "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"" + user
                + "\",\"domain\":{\"name\":\"Default\"},\"password\":\"" + password + "\"}}},"
                + "\"scope\":{\"project\":{\"name\":\"" + project + "\",\"domain\":{\"name\":\"Default\"}}}}}";
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(KEYSTONE_URL
                + "/auth/tokens")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("keystone answered " + r.statusCode());
        }
        return r.headers().firstValue("X-Subject-Token").orElseThrow();
    }

    /** Revokes a token through Keystone's API (DELETE /v3/auth/tokens). */
    static void revoke(String token) throws Exception {
        String admin = issueToken("admin", ADMIN_PASSWORD, "admin");
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(KEYSTONE_URL
                + "/auth/tokens")).header("X-Auth-Token", admin).header("X-Subject-Token", token).DELETE().build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (r.statusCode() != 204) {
            throw new IllegalStateException("keystone answered " + r.statusCode() + " to the revocation");
        }
    }
}
