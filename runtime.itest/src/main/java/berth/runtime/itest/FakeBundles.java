package berth.runtime.itest;

import berth.runtime.itest.fake.FakeComputeDriver;
import berth.runtime.itest.fake.FakeDriverActivator;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;

/** Assembles a TEST-ONLY driver bundle from the fake classes of this test bundle and installs it. */
final class FakeBundles {
    private FakeBundles() {
    }

    static Bundle install(BundleContext context, String backend, int ranking) throws IOException, BundleException {
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", "berth.itest.fake." + backend);
        a.putValue("Bundle-Version", "1.0.0");
        a.putValue("Bundle-Activator", FakeDriverActivator.class.getName());
        a.putValue("Import-Package", "berth.driver.api;version=\"[1,2)\",berth.driver.api.spi;version=\"[1,2)\","
                + "org.osgi.framework");
        a.putValue("Berth-Fake-Backend", backend);
        a.putValue("Berth-Fake-Ranking", Integer.toString(ranking));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JarOutputStream jar = new JarOutputStream(bytes, mf)) {
            for (Class<?> c : new Class<?>[] {FakeComputeDriver.class, FakeDriverActivator.class}) {
                String path = c.getName().replace('.', '/') + ".class";
                jar.putNextEntry(new JarEntry(path));
                try (InputStream in = c.getClassLoader().getResourceAsStream(path)) {
                    in.transferTo(jar);
                }
                jar.closeEntry();
            }
        }
        return context.installBundle("berth-itest:fake-" + backend, new ByteArrayInputStream(bytes.toByteArray()));
    }
}
