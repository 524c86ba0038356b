package berth.image.glance.internal.glance;

import berth.driver.api.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;

/**
 * Keystone v3 password authentication with a project-scoped token; Glance's URL comes from the token's service
 * catalog (type {@code image}, configured interface and region) unless an endpoint is configured. The token is
 * renewed when it comes within the renew margin of its expiry, and once more whenever Glance refuses it.
 */
final class KeystoneIdentity implements Identity {
    private final GlanceSettings settings;
    private final HttpClient http;
    private final ObjectMapper json;
    private final Clock clock;

    private Session current;
    private Instant renewAt;
    private int authentications;

    KeystoneIdentity(GlanceSettings settings, HttpClient http, ObjectMapper json, Clock clock) {
        this.settings = settings;
        this.http = http;
        this.json = json;
        this.clock = clock;
    }

    @Override
    public synchronized Session session() {
        if (current == null || !clock.instant().isBefore(renewAt)) {
            authenticate();
        }
        return current;
    }

    @Override
    public synchronized boolean rejected(Session refused) {
        if (refused == current) {
            current = null;
        }
        return true;
    }

    @Override
    public String describeRefusal() {
        return "it refused a fresh token of user '" + settings.username() + "' in project '" + settings.project()
                + "' (check the user's role in the project and Glance's keystone_authtoken settings)";
    }

    /** @return how many tokens this identity obtained so far (tests watch renewals with it) */
    synchronized int authentications() {
        return authentications;
    }

    private void authenticate() {
        URI uri = URI.create(settings.keystoneUrl() + "/auth/tokens");
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(settings.requestTimeout())
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(requestBody()))
                .build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new EngineException("keystone at " + settings.keystoneUrl() + " is not reachable: "
                    + GlanceClient.describe(e, settings));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException("interrupted while authenticating with keystone at " + settings.keystoneUrl());
        }
        int status = response.statusCode();
        if (status == 401) {
            throw new EngineException("keystone at " + settings.keystoneUrl() + " refused the password of user '"
                    + settings.username() + "' (domain '" + settings.userDomain() + "') for project '"
                    + settings.project() + "' (domain '" + settings.projectDomain() + "')");
        }
        if (status != 201 && status != 200) {
            throw new EngineException("keystone at " + settings.keystoneUrl() + " answered HTTP " + status
                    + " to the token request: " + GlanceClient.shortBody(response.body()));
        }
        String token = response.headers().firstValue("X-Subject-Token").orElse("");
        if (token.isEmpty()) {
            throw new EngineException("keystone at " + settings.keystoneUrl() + " issued no X-Subject-Token");
        }
        JsonNode body;
        try {
            body = json.readTree(response.body()).path("token");
        } catch (IOException e) {
            throw new EngineException("keystone at " + settings.keystoneUrl() + " answered a token request with"
                    + " unreadable JSON");
        }
        Instant now = clock.instant();
        Instant expires;
        try {
            expires = Instant.parse(body.path("expires_at").asText());
        } catch (DateTimeParseException e) {
            expires = now.plus(Duration.ofMinutes(5));
        }
        URI endpoint = settings.endpoint() != null ? settings.endpoint() : imageEndpoint(body.path("catalog"));
        // A margin longer than half the token's life would renew on every call; keep at least half of it.
        Duration life = Duration.between(now, expires);
        Duration margin = settings.renewMargin().compareTo(life.dividedBy(2)) > 0 ? life.dividedBy(2)
                : settings.renewMargin();
        renewAt = expires.minus(margin);
        current = new Session(endpoint, Map.of("X-Auth-Token", token));
        authentications++;
    }

    private byte[] requestBody() {
        ObjectNode root = json.createObjectNode();
        ObjectNode auth = root.putObject("auth");
        ObjectNode identity = auth.putObject("identity");
        identity.putArray("methods").add("password");
        ObjectNode user = identity.putObject("password").putObject("user");
        user.put("name", settings.username());
        user.putObject("domain").put("name", settings.userDomain());
        user.put("password", settings.password().reveal());
        ObjectNode project = auth.putObject("scope").putObject("project");
        project.put("name", settings.project());
        project.putObject("domain").put("name", settings.projectDomain());
        try {
            return json.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the token request", e);
        }
    }

    private URI imageEndpoint(JsonNode catalog) {
        String region = settings.catalogRegion();
        for (JsonNode service : catalog) {
            if (!"image".equals(service.path("type").asText())) {
                continue;
            }
            for (JsonNode ep : service.path("endpoints")) {
                boolean interfaceMatches = settings.catalogInterface().equals(ep.path("interface").asText());
                boolean regionMatches = region == null || region.isBlank()
                        || region.equals(ep.path("region_id").asText()) || region.equals(ep.path("region").asText());
                Optional<String> url = Optional.ofNullable(ep.path("url").asText(null));
                if (interfaceMatches && regionMatches && url.isPresent()) {
                    try {
                        return GlanceSettings.normalizeEndpoint(URI.create(url.get()));
                    } catch (IllegalArgumentException e) {
                        throw new EngineException("keystone's catalog lists an unusable image endpoint '" + url.get()
                                + "'");
                    }
                }
            }
        }
        throw new EngineException("keystone's catalog for project '" + settings.project()
                + "' has no image endpoint with interface '" + settings.catalogInterface() + "'"
                + (region == null || region.isBlank() ? "" : " in region '" + region + "'"));
    }
}
