package berth.swap.itest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.function.Consumer;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.osgi.framework.Bundle;

/**
 * Makes other builds of an installed bundle: the same classes with a changed manifest (a new version, an
 * unresolvable import, no components). Written next to the deploy folder and renamed into it, as a deploy
 * tool should, so the deployer never reads half a jar.
 */
final class Builds {
    private static final String EXTRA = "META-INF/berth-build.txt";

    private Builds() {
    }

    static Path rebuild(Bundle from, Path deployDir, String fileName, Consumer<Attributes> change,
            String extraEntry) throws IOException {
        Manifest mf = new Manifest();
        try (InputStream in = from.getEntry("META-INF/MANIFEST.MF").openStream()) {
            mf.read(in);
        }
        change.accept(mf.getMainAttributes());
        Files.createDirectories(deployDir);
        Path tmp = deployDir.resolve("." + fileName + ".tmp");
        try (OutputStream os = Files.newOutputStream(tmp); JarOutputStream jar = new JarOutputStream(os, mf)) {
            Enumeration<URL> e = from.findEntries("/", "*", true);
            List<URL> urls = e == null ? List.of() : new ArrayList<>(Collections.list(e));
            for (URL u : urls) {
                String path = u.getPath().startsWith("/") ? u.getPath().substring(1) : u.getPath();
                if (path.isEmpty() || path.equalsIgnoreCase("META-INF/MANIFEST.MF") || path.equals("META-INF/")
                        || extraEntry != null && path.equals(EXTRA)) {
                    continue;
                }
                jar.putNextEntry(new JarEntry(path));
                if (!path.endsWith("/")) {
                    try (InputStream in = u.openStream()) {
                        in.transferTo(jar);
                    }
                }
                jar.closeEntry();
            }
            if (extraEntry != null) {
                jar.putNextEntry(new JarEntry(EXTRA));
                jar.write(extraEntry.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                jar.closeEntry();
            }
        }
        Path target = deployDir.resolve(fileName);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return target;
    }
}
