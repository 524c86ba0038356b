package berth.driver.lxc.internal.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Flattens a {@code docker save} archive into a rootfs: layers in manifest order, whiteouts honoured. The archive
 * is a local file, so instead of unpacking it to disk first it is read once for its index and small JSON files,
 * then once more per layer (skipping other bodies is cheap on a file).
 */
public final class DockerArchive {
    private static final long MAX_JSON = 16L << 20;
    private static final int MAX_LINK_HOPS = 16;

    private DockerArchive() {
    }

    /**
     * @param archive   the docker save file
     * @param extractor extractor writing into the rootfs
     * @param mapper    JSON reader
     * @return the image's default command, entrypoint, environment and working folder
     * @throws IOException when the archive is malformed or a layer is unsafe
     */
    public static ImageMeta flatten(Path archive, SafeTarExtractor extractor, ObjectMapper mapper) throws IOException {
        Map<String, String> links = new HashMap<>();
        Map<String, byte[]> json = new HashMap<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(archive), 1 << 16);
                TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                String name = clean(e.getName());
                if (e.isSymbolicLink()) {
                    links.put(name, e.getLinkName());
                } else if (name.endsWith(".json") && e.getSize() <= MAX_JSON && !e.isDirectory()) {
                    json.put(name, tar.readAllBytes());
                }
            }
        }
        byte[] manifestBytes = json.get("manifest.json");
        if (manifestBytes == null) {
            throw new IOException("docker archive has no manifest.json");
        }
        JsonNode manifest = mapper.readTree(manifestBytes);
        if (!manifest.isArray() || manifest.size() == 0) {
            throw new IOException("docker archive manifest.json lists no image");
        }
        if (manifest.size() > 1) {
            throw new IOException("docker archive holds " + manifest.size() + " images; one is expected");
        }
        JsonNode image = manifest.get(0);
        List<String> layers = new ArrayList<>();
        for (JsonNode l : image.path("Layers")) {
            layers.add(resolve(clean(l.asText()), links));
        }
        if (layers.isEmpty()) {
            throw new IOException("docker archive manifest.json lists no layers");
        }
        for (String layer : layers) {
            boolean found = false;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(archive), 1 << 16);
                    TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
                TarArchiveEntry e;
                while ((e = tar.getNextEntry()) != null) {
                    if (!e.isSymbolicLink() && !e.isDirectory() && clean(e.getName()).equals(layer)) {
                        extractor.extract(maybeGunzip(tar), true);
                        found = true;
                        break;
                    }
                }
            }
            if (!found) {
                throw new IOException("docker archive lacks layer " + layer);
            }
        }
        JsonNode config = null;
        String configName = image.path("Config").asText("");
        if (!configName.isEmpty()) {
            byte[] cfg = json.get(resolve(clean(configName), links));
            if (cfg == null) {
                // OCI-style archives name the config by digest without a .json suffix: read it directly.
                cfg = readEntry(archive, resolve(clean(configName), links));
            }
            if (cfg != null) {
                config = mapper.readTree(cfg).path("config");
            }
        }
        return ImageMeta.fromDockerConfig(config);
    }

    private static byte[] readEntry(Path archive, String name) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(archive), 1 << 16);
                TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                if (clean(e.getName()).equals(name) && e.getSize() <= MAX_JSON) {
                    return tar.readAllBytes();
                }
            }
        }
        return null;
    }

    private static InputStream maybeGunzip(InputStream in) throws IOException {
        BufferedInputStream b = new BufferedInputStream(in, 1 << 16);
        b.mark(2);
        int m1 = b.read();
        int m2 = b.read();
        b.reset();
        return m1 == 0x1f && m2 == 0x8b ? new GZIPInputStream(b, 1 << 16) : b;
    }

    static String clean(String name) {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        while (n.endsWith("/")) {
            n = n.substring(0, n.length() - 1);
        }
        return n;
    }

    /* docker save links repeated layers to the first copy; follow such links inside the archive only. */
    private static String resolve(String name, Map<String, String> links) throws IOException {
        String n = name;
        for (int hop = 0; hop < MAX_LINK_HOPS; hop++) {
            String target = links.get(n);
            if (target == null) {
                return n;
            }
            Path base = Path.of("/" + n).getParent();
            Path r = (target.startsWith("/") ? Path.of(target) : base.resolve(target)).normalize();
            if (!r.startsWith("/") || r.toString().contains("..")) {
                throw new IOException("docker archive link " + name + " leaves the archive");
            }
            n = r.toString().substring(1);
        }
        throw new IOException("docker archive link loop at " + name);
    }
}
