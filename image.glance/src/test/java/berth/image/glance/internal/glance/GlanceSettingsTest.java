package berth.image.glance.internal.glance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Configuration checks, without any service. */
class GlanceSettingsTest {

    /** A Config whose methods answer from {@code values} (by property name) or their declared default. */
    static GlanceImageSource.Config config(Map<String, Object> values) {
        return (GlanceImageSource.Config) Proxy.newProxyInstance(GlanceImageSource.Config.class.getClassLoader(),
                new Class<?>[] {GlanceImageSource.Config.class}, (proxy, method, args) -> {
                    String key = method.getName().replace("_", ".");
                    return values.containsKey(key) ? values.get(key) : method.getDefaultValue();
                });
    }

    private static GlanceSettings settings(Map<String, Object> values) {
        return GlanceImageSource.settings(config(values), p -> "berth.state.dir".equals(p) ? "/srv/berth" : null,
                values);
    }

    @Test
    void keystoneConfigurationWithDefaults() {
        GlanceSettings s = settings(Map.of("berth.image.source", "cloud", "auth", "keystone", "keystone.url",
                "http://127.0.0.1:5000/", "username", "nova", ".password", "s3cret-pw", "project", "service"));
        assertEquals(URI.create("http://127.0.0.1:5000/v3"), s.keystoneUrl());
        assertEquals("Default", s.userDomain());
        assertEquals("public", s.catalogInterface());
        assertEquals(Path.of("/srv/berth/image-cache/cloud"), s.cacheDir());
        assertEquals(10240L * 1024 * 1024, s.cacheMaxBytes());
        assertFalse(s.toString().contains("s3cret-pw"), s.toString());
    }

    @Test
    void endpointLosesTrailingV2AndStateDirConfigWins() {
        GlanceSettings s = settings(Map.of("auth", "noauth", "endpoint", "http://127.0.0.1:9292/v2/",
                "state.dir", "/tmp/x"));
        assertEquals(URI.create("http://127.0.0.1:9292"), s.endpoint());
        assertEquals(Path.of("/tmp/x/image-cache/glance"), s.cacheDir());
        assertEquals(List.of("member", "reader"), s.trustedRoles());
    }

    @Test
    void refusesIncompleteOrUnsafeConfigurations() {
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "keystone")));
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "token",
                "endpoint", "http://127.0.0.1:9292")));
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "noauth")));
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "magic")));
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "noauth",
                "endpoint", "ftp://127.0.0.1/")));
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "noauth",
                "endpoint", "http://127.0.0.1:9292", "berth.image.source", "local")));
        assertThrows(IllegalArgumentException.class, () -> settings(Map.of("auth", "noauth",
                "endpoint", "http://127.0.0.1:9292", "berth.image.source", "Bad Name")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings(Map.of(
                "auth", "token", "endpoint", "http://127.0.0.1:9292", "token", "abc")));
        assertTrue(e.getMessage().contains("'.token'"), e.getMessage());
        Map<String, Object> leaky = new HashMap<>(Map.of("auth", "keystone", "keystone.url", "http://k:5000",
                "username", "u", "project", "p", "password", "pw-in-public-key"));
        e = assertThrows(IllegalArgumentException.class, () -> settings(leaky));
        assertFalse(e.getMessage().contains("pw-in-public-key"));
    }

    @Test
    void secretsAndSessionsPrintMasked() {
        GlanceSettings s = settings(Map.of("auth", "token", "endpoint", "http://127.0.0.1:9292",
                ".token", "gAAAAAB-token-value"));
        assertFalse(s.toString().contains("gAAAAAB-token-value"));
        Identity.Session session = new TokenIdentity(s.endpoint(), s.token()).session();
        assertFalse(session.toString().contains("gAAAAAB-token-value"), session.toString());
        assertEquals("****", Secret.of("x").toString());
    }
}
