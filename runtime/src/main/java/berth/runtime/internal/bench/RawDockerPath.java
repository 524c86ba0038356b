package berth.runtime.internal.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The reference path for Docker: create, start, stop and delete through the Engine API, with the settings Berth's
 * own container got (image, command, network mode, init, memory, CPU shares, pids limit), copied from the
 * running warm-up instance so both paths boot exactly the same thing. Containers are named
 * {@code bench-raw-<scope>-<n>} and labelled {@code berth.bench=<scope>}, and carry no {@code berth.*} instance
 * label, so Berth's reconciliation never mistakes them for its own.
 */
final class RawDockerPath {

    static final String LABEL = "berth.bench";
    private static final String API = "/v1.41";

    private final DockerSocketClient docker;
    private final String scope;
    private final ObjectMapper json = new ObjectMapper();
    private String createBody;

    RawDockerPath(DockerSocketClient docker, String scope) {
        this.docker = docker;
        this.scope = scope;
    }

    String name(int n) {
        return "bench-raw-" + scope + "-" + n;
    }

    /** Copies the settings of the container Berth made for instance {@code uuid}. */
    void copySettingsOf(String uuid) throws IOException {
        JsonNode list = get(API + "/containers/json?all=1&filters="
                + enc("{\"label\":[\"berth.instance=" + uuid + "\"]}"));
        if (!list.isArray() || list.isEmpty()) {
            throw new IOException("no docker container labelled berth.instance=" + uuid);
        }
        JsonNode c = get(API + "/containers/" + list.get(0).path("Id").asText() + "/json");
        ObjectNode body = json.createObjectNode();
        body.put("Image", c.path("Image").asText());
        JsonNode cfg = c.path("Config");
        if (cfg.hasNonNull("Cmd")) {
            body.set("Cmd", cfg.get("Cmd"));
        }
        if (cfg.hasNonNull("Entrypoint")) {
            body.set("Entrypoint", cfg.get("Entrypoint"));
        }
        body.putObject("Labels").put(LABEL, scope);
        ObjectNode host = body.putObject("HostConfig");
        JsonNode h = c.path("HostConfig");
        for (String k : new String[] {"NetworkMode", "Init", "Memory", "MemorySwap", "CpuShares", "PidsLimit",
            "CpuPeriod", "CpuQuota"}) {
            if (h.hasNonNull(k)) {
                host.set(k, h.get(k));
            }
        }
        createBody = json.writeValueAsString(body);
    }

    /** @return the create request's body, for the report */
    String settings() {
        return createBody;
    }

    String create(int n) throws IOException {
        DockerSocketClient.Response r = docker.call("POST", API + "/containers/create?name=" + name(n), createBody);
        check(r, "create " + name(n));
        return json.readTree(r.body()).path("Id").asText();
    }

    void start(String id) throws IOException {
        check(docker.call("POST", API + "/containers/" + id + "/start", null), "start " + id);
    }

    void stop(String id, int timeoutSeconds) throws IOException {
        check(docker.call("POST", API + "/containers/" + id + "/stop?t=" + timeoutSeconds, null), "stop " + id);
    }

    void delete(String id) throws IOException {
        check(docker.call("DELETE", API + "/containers/" + id + "?force=true&v=true", null), "delete " + id);
    }

    /**
     * Removes every container of this scope's earlier runs.
     *
     * @return the names removed
     */
    List<String> removeLeftovers() throws IOException {
        JsonNode list = get(API + "/containers/json?all=1&filters=" + enc("{\"label\":[\"" + LABEL + "=" + scope + "\"]}"));
        List<String> removed = new ArrayList<>();
        for (JsonNode c : list) {
            String id = c.path("Id").asText();
            DockerSocketClient.Response r = docker.call("DELETE", API + "/containers/" + id + "?force=true&v=true", null);
            if (r.ok() || r.status() == 404) {
                removed.add(c.path("Names").path(0).asText(id).replaceFirst("^/", ""));
            } else {
                throw new IOException("cannot remove leftover container " + id + ": " + message(r));
            }
        }
        return removed;
    }

    private JsonNode get(String path) throws IOException {
        DockerSocketClient.Response r = docker.call("GET", path, null);
        check(r, "GET " + path);
        return json.readTree(r.body());
    }

    private void check(DockerSocketClient.Response r, String what) throws IOException {
        if (!r.ok()) {
            throw new IOException("docker " + what + ": " + message(r));
        }
    }

    private String message(DockerSocketClient.Response r) {
        try {
            String m = json.readTree(r.body()).path("message").asText("");
            return r.status() + (m.isEmpty() ? "" : " " + m);
        } catch (IOException | UncheckedIOException e) {
            return Integer.toString(r.status());
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
