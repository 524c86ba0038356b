package berth.driver.docker.internal;

import berth.driver.api.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** Reads a {@code docker save} archive before it is loaded, to know the image id it will produce. */
final class DockerArchives {

    private DockerArchives() {
    }

    /**
     * The id {@code docker load} gives the archive's first image: the SHA-256 of its config, which is how Docker
     * names images. Hashing it here means a load never has to be parsed from Docker's progress output.
     *
     * @param archive a {@code docker save} archive
     * @return the image id, {@code sha256:<hex>}
     * @throws EngineException when it is not a docker save archive
     */
    static String imageId(Path archive) {
        Map<String, String> configHashes = new HashMap<>();
        JsonNode manifest = null;
        try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(archive))) {
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
                if (!e.isFile()) {
                    continue;
                }
                String name = e.getName().startsWith("./") ? e.getName().substring(2) : e.getName();
                if (name.equals("manifest.json")) {
                    manifest = new ObjectMapper().readTree(tar.readAllBytes());
                } else if (name.endsWith(".json") || name.startsWith("blobs/sha256/")) {
                    if (e.getSize() < 4 << 20) {
                        configHashes.put(name, sha256(tar));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new EngineException("not a docker save archive: " + e.getMessage(), e);
        }
        if (manifest == null || !manifest.isArray() || manifest.isEmpty()) {
            throw new EngineException("not a docker save archive: it has no manifest.json");
        }
        String config = manifest.get(0).path("Config").asText("");
        String hash = configHashes.get(config);
        if (hash == null) {
            throw new EngineException("not a docker save archive: its manifest names a config '" + config
                    + "' it does not hold");
        }
        return "sha256:" + hash;
    }

    private static String sha256(InputStream in) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (OutputStream sink = new OutputStream() {
                @Override
                public void write(int b) {
                    md.update((byte) b);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    md.update(b, off, len);
                }
            }) {
                in.transferTo(sink);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
