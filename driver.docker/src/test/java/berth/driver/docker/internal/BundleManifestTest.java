package berth.driver.docker.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The bundle carries docker-java privately and imports JNA (style rules 18 and 19), as bnd built it. */
class BundleManifestTest {

    private static final Path CLASSES = Path.of("target/classes");

    private static Manifest manifest() throws IOException {
        Path mf = CLASSES.resolve("META-INF/MANIFEST.MF");
        Assumptions.assumeTrue(Files.exists(mf), "run through Maven: bnd writes the manifest at process-classes");
        try (InputStream in = Files.newInputStream(mf)) {
            return new Manifest(in);
        }
    }

    @Test
    void dockerJavaIsPrivateAndJnaImported() throws IOException {
        var main = manifest().getMainAttributes();
        String exports = main.getValue("Export-Package");
        assertNull(exports, "the Docker bundle exports nothing: " + exports);
        String imports = main.getValue("Import-Package");
        assertTrue(imports.contains("com.sun.jna;version=\"[5,6)\""), imports);
        assertFalse(imports.contains("com.github.dockerjava"), "docker-java is not imported");
        String privates = main.getValue("Private-Package");
        assertTrue(privates.contains("com.github.dockerjava.core") && privates.contains("com.github.dockerjava.zerodep"),
                privates);
        assertFalse(Files.exists(CLASSES.resolve("com/sun/jna")), "JNA is never embedded");
        for (String optional : new String[] {"org.bouncycastle.openssl", "org.conscrypt", "org.brotli.dec"}) {
            int at = imports.indexOf(optional);
            if (at >= 0) {
                int end = imports.indexOf(",", imports.indexOf("resolution", at));
                assertTrue(imports.substring(at, end < 0 ? imports.length() : end).contains("resolution:=optional"),
                        optional + " must be optional");
            }
        }
        String components = main.getValue("Service-Component");
        assertTrue(components.contains("DockerComputeDriver") && components.contains("DockerEngineMonitor"), components);
    }
}
