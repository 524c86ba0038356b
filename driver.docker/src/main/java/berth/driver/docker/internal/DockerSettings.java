package berth.driver.docker.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.transport.DockerHttpClient;
import com.github.dockerjava.zerodep.ZerodepDockerHttpClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * How to reach one Docker engine: its host URI ({@code unix://}, or {@code tcp://} optionally with TLS client
 * certificates from {@code certPath}).
 *
 * @param host      engine URI
 * @param tlsVerify whether to use TLS and verify the engine (tcp only)
 * @param certPath  directory with ca.pem, cert.pem, key.pem, or empty
 */
public record DockerSettings(String host, boolean tlsVerify, String certPath) {

    /** The default engine, {@code berth.docker.host}'s default. */
    public static final String DEFAULT_HOST = "unix:///var/run/docker.sock";

    public DockerSettings {
        Objects.requireNonNull(host, "host");
        if (!host.startsWith("unix://") && !host.startsWith("tcp://")) {
            throw new IllegalArgumentException("docker host must be unix:// or tcp://, got " + host);
        }
        if (tlsVerify && (certPath == null || certPath.isBlank())) {
            throw new IllegalArgumentException("TLS to " + host + " needs a certificate directory (cert.path)");
        }
        certPath = certPath == null ? "" : certPath;
    }

    /** @return whether the engine runs on this host (a unix socket), so its pids and paths are ours to read */
    public boolean local() {
        return host.startsWith("unix://");
    }

    /**
     * A client of its own: docker-java keeps a connection pool per client, and a client with a short response
     * timeout must not be shared with long loads and event streams.
     *
     * @param responseTimeout how long to wait for a response, or {@code null} for no limit
     * @return the clients, closed together
     */
    public Clients connect(Duration responseTimeout) {
        DefaultDockerClientConfig.Builder b = DefaultDockerClientConfig.createDefaultConfigBuilder()
                .withDockerHost(host).withDockerTlsVerify(tlsVerify);
        if (tlsVerify) {
            b.withDockerCertPath(certPath);
        }
        DockerClientConfig config = b.build();
        ZerodepDockerHttpClient.Builder http = new ZerodepDockerHttpClient.Builder()
                .dockerHost(URI.create(host)).sslConfig(config.getSSLConfig()).maxConnections(64)
                .connectionTimeout(Duration.ofSeconds(5));
        if (responseTimeout != null) {
            http.responseTimeout(responseTimeout);
        }
        DockerHttpClient httpClient = http.build();
        return new Clients(DockerClientImpl.getInstance(config, httpClient), httpClient);
    }

    /**
     * docker-java's client and the HTTP client under it (for the few API fields docker-java does not map).
     *
     * @param docker the client
     * @param http   its transport
     */
    public record Clients(DockerClient docker, DockerHttpClient http) implements AutoCloseable {
        /**
         * @param path API path, for example {@code /info}
         * @return the JSON answer
         * @throws IOException on failure or a non-2xx status
         */
        public JsonNode getJson(String path) throws IOException {
            DockerHttpClient.Request req = DockerHttpClient.Request.builder()
                    .method(DockerHttpClient.Request.Method.GET).path(path).build();
            try (DockerHttpClient.Response res = http.execute(req); InputStream body = res.getBody()) {
                if (res.getStatusCode() / 100 != 2) {
                    throw new IOException("GET " + path + ": HTTP " + res.getStatusCode());
                }
                return new ObjectMapper().readTree(body);
            }
        }

        @Override
        public void close() {
            try {
                docker.close();
            } catch (IOException | RuntimeException ignored) {
                // closing a pool whose engine went away
            }
        }
    }
}
