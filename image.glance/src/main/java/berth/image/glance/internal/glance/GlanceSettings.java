package berth.image.glance.internal.glance;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One Glance endpoint's validated configuration. Built from the component's configuration; tests build it
 * directly. Secrets are {@link Secret}s, so {@link #toString()} never shows them.
 */
record GlanceSettings(String name, AuthMode auth, URI endpoint, URI keystoneUrl, String username, Secret password,
        String userDomain, String project, String projectDomain, String catalogInterface, String catalogRegion,
        Secret token, String trustedProject, List<String> trustedRoles, Path cacheDir, long cacheMaxBytes,
        Duration connectTimeout, Duration requestTimeout, Duration stallTimeout, Duration renewMargin,
        int pageSize) {

    /** How Berth proves who it is to Glance. */
    enum AuthMode {
        /** Keystone v3 password authentication, endpoint from the service catalog. */
        KEYSTONE,
        /** A fixed endpoint and token given in the configuration. */
        TOKEN,
        /** No authentication: identity headers for a Glance that trusts them (test installs). */
        NOAUTH;

        static AuthMode parse(String s) {
            String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
            return switch (v) {
                case "keystone", "password" -> KEYSTONE;
                case "token" -> TOKEN;
                case "noauth", "none", "trusted" -> NOAUTH;
                default -> throw new IllegalArgumentException(
                        "auth must be keystone, token or noauth, not '" + s + "'");
            };
        }
    }

    GlanceSettings {
        Objects.requireNonNull(auth, "auth");
        if (name == null || !name.matches("[a-z0-9][a-z0-9._-]{0,62}")) {
            throw new IllegalArgumentException("berth.image.source must be a short lower-case name, not '" + name
                    + "'");
        }
        if ("local".equals(name)) {
            throw new IllegalArgumentException("berth.image.source 'local' is the local store's name");
        }
        endpoint = endpoint == null ? null : normalizeEndpoint(endpoint);
        password = password == null ? Secret.NONE : password;
        token = token == null ? Secret.NONE : token;
        trustedRoles = List.copyOf(trustedRoles == null ? List.of() : trustedRoles);
        switch (auth) {
            case KEYSTONE -> {
                if (keystoneUrl == null) {
                    throw new IllegalArgumentException("auth=keystone needs keystone.url");
                }
                keystoneUrl = normalizeKeystone(keystoneUrl);
                require(username, "username");
                require(project, "project");
                if (password.isEmpty()) {
                    throw new IllegalArgumentException("auth=keystone needs .password");
                }
                require(userDomain, "user.domain");
                require(projectDomain, "project.domain");
                require(catalogInterface, "catalog.interface");
                if (!List.of("public", "internal", "admin").contains(catalogInterface)) {
                    throw new IllegalArgumentException("catalog.interface must be public, internal or admin");
                }
            }
            case TOKEN -> {
                if (endpoint == null) {
                    throw new IllegalArgumentException("auth=token needs endpoint");
                }
                if (token.isEmpty()) {
                    throw new IllegalArgumentException("auth=token needs .token");
                }
            }
            case NOAUTH -> {
                if (endpoint == null) {
                    throw new IllegalArgumentException("auth=noauth needs endpoint");
                }
                require(trustedProject, "noauth.project");
            }
        }
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (cacheMaxBytes <= 0) {
            throw new IllegalArgumentException("cache.max.mb must be positive");
        }
        positive(connectTimeout, "timeout.connect.seconds");
        positive(requestTimeout, "timeout.request.seconds");
        positive(stallTimeout, "timeout.stall.seconds");
        Objects.requireNonNull(renewMargin, "renewMargin");
        if (renewMargin.isNegative()) {
            throw new IllegalArgumentException("token.renew.seconds must not be negative");
        }
        if (pageSize < 1 || pageSize > 1000) {
            throw new IllegalArgumentException("page.size must be between 1 and 1000");
        }
    }

    private static void require(String value, String key) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("auth=keystone/noauth needs " + key);
        }
    }

    private static void positive(Duration d, String key) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(key + " must be positive");
        }
    }

    /** Glance endpoints appear with or without a trailing {@code /v2}; requests add {@code /v2/...} themselves. */
    static URI normalizeEndpoint(URI uri) {
        checkHttp(uri, "endpoint");
        String s = uri.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        if (s.endsWith("/v2")) {
            s = s.substring(0, s.length() - 3);
        }
        return URI.create(s);
    }

    static URI normalizeKeystone(URI uri) {
        checkHttp(uri, "keystone.url");
        String s = uri.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.endsWith("/v3")) {
            s = s + "/v3";
        }
        return URI.create(s);
    }

    private static void checkHttp(URI uri, String key) {
        if (uri.getScheme() == null || !List.of("http", "https").contains(uri.getScheme())
                || uri.getHost() == null) {
            throw new IllegalArgumentException(key + " must be an http(s) URL, not '" + uri + "'");
        }
        if (uri.getUserInfo() != null || uri.getQuery() != null) {
            throw new IllegalArgumentException(key + " must not carry user info or a query");
        }
    }
}
