package berth.driver.lxc.internal.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.lxc.internal.LxcTestSupport;
import berth.driver.lxc.internal.TestTars;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real multi-layer {@code docker save} (built locally from the seeded busybox, no registry) flattens with its
 * whiteouts and opaque folders. Needs dockerd at unix:///var/run/docker.sock (or -Dberth.test.docker.host).
 */
class RealDockerSaveTest {
    @TempDir
    Path tmp;

    @Test
    void multiLayerDockerSaveFlattens() throws Exception {
        String host = System.getProperty("berth.test.docker.host", "unix:///var/run/docker.sock");
        LxcTestSupport.require(Files.isExecutable(Path.of("/usr/bin/docker")), "docker CLI (apt-get install docker.io)");
        LxcTestSupport.require(run(List.of("docker", "-H", host, "version"), 30).exit == 0, "dockerd at " + host);
        String tag = "berth-lxc-test-" + UUID.randomUUID().toString().substring(0, 8);
        Path rootfs = new TestTars().busyboxRoot().file("etc/motd", "base").dir("d", 0755).file("d/x", "x")
                .writeTo(tmp.resolve("rootfs.tar"));
        try {
            assertEquals(0, run(List.of("docker", "-H", host, "import", rootfs.toString(), tag + ":base"), 120).exit);
            Path ctx = Files.createDirectories(tmp.resolve("ctx"));
            Files.writeString(ctx.resolve("Dockerfile"), "FROM " + tag + ":base\n"
                    + "RUN rm /etc/motd && echo one > /etc/one\n"
                    + "RUN rm -rf /d && mkdir /d && echo z > /d/z\n"
                    + "CMD [\"/bin/sleep\", \"1000\"]\n");
            Result b = run(List.of("docker", "-H", host, "build", "--network", "none", "-q", "-t", tag + ":layers", ctx.toString()), 300);
            assertEquals(0, b.exit, b.out);
            Path saved = tmp.resolve("saved.tar");
            assertEquals(0, run(List.of("docker", "-H", host, "save", "-o", saved.toString(), tag + ":layers"), 120).exit);
            ImageBases bases = new ImageBases(tmp.resolve("images"), false, 0, 0, new ObjectMapper());
            ImageBases.Base base = bases.ensure(TestTars.localImage(saved, ContainerFormat.DOCKER));
            Path r = base.rootfs();
            assertTrue(Files.isRegularFile(r.resolve("bin/busybox")));
            assertFalse(Files.exists(r.resolve("etc/motd")), "whiteout from the first RUN");
            assertEquals("one\n", Files.readString(r.resolve("etc/one")));
            assertFalse(Files.exists(r.resolve("d/x")), "opaque folder from the second RUN");
            assertEquals("z\n", Files.readString(r.resolve("d/z")));
            assertEquals(List.of("/bin/sleep", "1000"), base.meta().cmd());
        } finally {
            run(List.of("docker", "-H", host, "rmi", "-f", tag + ":layers", tag + ":base"), 60);
        }
    }

    private record Result(int exit, String out) {
    }

    private static Result run(List<String> argv, int seconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Result(-1, "timed out");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
