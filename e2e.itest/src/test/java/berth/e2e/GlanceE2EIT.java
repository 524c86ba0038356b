package berth.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Glance across backends through {@code ./berth -c}: a docker-format and a bare/raw rootfs image uploaded with
 * Debian's {@code glance} CLI (Keystone-backed Glance) and with {@code glance:import} (no-auth Glance) boot on
 * both backends; snapshots of a Docker and an LXC instance land in Glance with their properties, boot again on
 * both backends with the file written before the snapshot, and download with the CLI to the bytes Glance reports.
 */
class GlanceE2EIT {
    private static final String NOAUTH = "http://127.0.0.1:19292";
    private static final String KS_GLANCE = "http://127.0.0.1:19293";
    private static final String KEYSTONE = "http://127.0.0.1:15000/v3";
    private static final String NA = "e2ena";
    private static final String KS = "e2eks";

    @TempDir
    Path tmp;

    private Launcher berth;
    private final List<String> instances = new ArrayList<>();
    private final List<String> cliImages = new ArrayList<>();
    private final List<String> noauthImages = new ArrayList<>();
    /** Berth image ids booted on Docker (its backend tags them berth/ID). */
    private final List<String> dockerTags = new ArrayList<>();
    private Map<String, String> cliEnv;
    private final Map<String, List<Long>> bootMillis = new LinkedHashMap<>();

    @AfterEach
    void cleanUp() throws Exception {
        if (berth == null) {
            return;
        }
        for (String name : instances) {
            berth.retry("nova:delete " + name);
        }
        for (String id : noauthImages) {
            berth.retry("glance:delete --source " + NA + " " + id);
        }
        for (String id : cliImages) {
            glance("image-delete", id);
        }
        Sh.run(60, "docker", "rmi", "berth-e2e/" + berth.scope + ":1");
        Launcher.removeDockerImages(dockerTags);
        List<String> left = berth.removeLeftovers();
        if (!left.isEmpty()) {
            System.out.println("e2e cleanup had to remove what Berth left: " + left);
        }
        try {
            berth.stopRuntime();
        } finally {
            berth.removeBridge();
        }
    }

    @Test
    @Timeout(1800)
    void glanceImagesAndSnapshotsBootOnBothBackends() throws Exception {
        berth = new Launcher(tmp, "gl");
        berth.requireBasics();
        Launcher.require(Files.isExecutable(Path.of("/usr/bin/glance")), "Debian's glance CLI (python3-glanceclient)");
        ensureGlance();
        Map<String, String> creds = credentials();
        cliEnv = new LinkedHashMap<>();
        cliEnv.put("OS_AUTH_URL", creds.getOrDefault("BERTH_TEST_KEYSTONE_URL", KEYSTONE));
        cliEnv.put("OS_IDENTITY_API_VERSION", "3");
        cliEnv.put("OS_USERNAME", creds.get("BERTH_TEST_KEYSTONE_USER"));
        cliEnv.put("OS_PASSWORD", creds.get("BERTH_TEST_KEYSTONE_PASSWORD"));
        cliEnv.put("OS_PROJECT_NAME", creds.get("BERTH_TEST_KEYSTONE_PROJECT"));
        cliEnv.put("OS_USER_DOMAIN_NAME", "Default");
        cliEnv.put("OS_PROJECT_DOMAIN_NAME", "Default");
        cliEnv.put("OS_REGION_NAME", creds.getOrDefault("BERTH_TEST_KEYSTONE_REGION", "RegionOne"));
        cliEnv.put("OS_INTERFACE", "public");
        configureSources(creds);
        berth.startRuntime();
        berth.awaitOk("glance:images --source " + NA, 60);
        berth.awaitOk("glance:images --source " + KS, 60);

        String marker = "image-of-" + berth.scope;
        Path rootfs = rootfsTar(marker);
        Path archive = dockerArchive(rootfs);

        // Images from the real CLI (Keystone-backed Glance) and from Berth (no-auth Glance)
        String ksDocker = cliCreate("e2e-" + berth.scope + "-docker", "docker", archive);
        String ksRootfs = cliCreate("e2e-" + berth.scope + "-rootfs", "bare", rootfs);
        String naDocker = berthImport("e2e-" + berth.scope + "-docker", "docker", archive);
        String naRootfs = berthImport("e2e-" + berth.scope + "-rootfs", "bare", rootfs);


        record Boot(String name, String image, String source, String backend) {
        }
        List<Boot> boots = List.of(
                new Boot("na-docker-on-docker", naDocker, NA, "docker"),
                new Boot("na-docker-on-lxc", naDocker, NA, "lxc"),
                new Boot("na-rootfs-on-docker", naRootfs, NA, "docker"),
                new Boot("na-rootfs-on-lxc", naRootfs, NA, "lxc"),
                new Boot("ks-docker-on-docker", ksDocker, KS, "docker"),
                new Boot("ks-docker-on-lxc", ksDocker, KS, "lxc"),
                new Boot("ks-rootfs-on-docker", ksRootfs, KS, "docker"),
                new Boot("ks-rootfs-on-lxc", ksRootfs, KS, "lxc"));
        List<String> failures = new ArrayList<>();
        for (Boot b : boots) {
            try {
                boot(b.name(), b.image(), b.backend());
                Map<String, String> s = berth.show(b.name());
                assertEquals(b.image() + " (" + b.source() + ")", s.get("image"),
                        "nova:show names the image source that served " + b.name());
                assertEquals(marker, berth.ok("nova:exec " + b.name() + " -- cat /etc/e2e-image").out().strip(),
                        b.name() + " runs the uploaded image's files");
            } catch (AssertionError e) {
                failures.add(b.name() + ": " + e.getMessage());
            }
        }
        assertTrue(failures.isEmpty(), "boots from Glance that failed:\n" + String.join("\n", failures));

        // Snapshots of an LXC and a Docker instance into each Glance (where the instance's image came from)
        for (String from : List.of("ks-docker-on-lxc", "ks-rootfs-on-docker", "na-rootfs-on-lxc",
            "na-docker-on-docker")) {
            boolean ks = from.startsWith("ks-");
            String uuid = berth.show(from).get("id");
            String content = "written-in-" + from + "-" + System.nanoTime();
            berth.ok("nova:exec " + from + " -- sh -c \"mkdir -p /root && echo " + content + " > /root/snap.txt && sync\"");
            String snapName = "e2e-" + berth.scope + "-snap-" + from;
            Launcher.Result r = berth.ok("nova:snapshot " + from + " " + snapName);
            Map<String, String> img = Launcher.properties(r.out());
            String id = img.get("id");
            assertNotNull(id, r::describe);
            (ks ? cliImages : noauthImages).add(id);
            assertEquals(ks ? KS : NA, img.get("source"), "snapshot of " + from + " stored where its image came from");
            assertEquals("snapshot", img.get("image_location"));
            assertEquals(uuid, img.get("instance_uuid"));
            assertEquals(from.endsWith("lxc") ? "lxc" : "docker", img.get("backend"));

            Path down = tmp.resolve(id + ".download");
            if (ks) {
                // Glance's own view and bytes, through Debian's CLI
                Map<String, String> cli = Launcher.properties(glance("image-show", id).out());
                assertEquals("active", cli.get("status"), "glance image-show " + cli);
                assertEquals("snapshot", cli.get("image_location"), "glance image-show " + cli);
                assertEquals(uuid, cli.get("instance_uuid"), "glance image-show " + cli);
                assertEquals(img.get("checksum"), cli.get("checksum"), "Berth and Glance agree on the checksum");
                Sh.Out d = glance("image-download", "--file", down.toString(), id);
                assertEquals(0, d.exit(), d.err());
                assertEquals(cli.get("checksum"), md5(down), "glance image-download of " + snapName);
            } else {
                // the no-auth Glance refuses the CLI (it trusts identity headers only): plain HTTP as the project
                String json = noauth("/v2/images/" + id, null);
                assertTrue(jsonHas(json, "image_location", "snapshot") && jsonHas(json, "instance_uuid", uuid)
                        && jsonHas(json, "checksum", img.get("checksum")), "Glance's record of " + snapName + ": " + json);
                noauth("/v2/images/" + id + "/file", down);
                assertEquals(img.get("checksum"), md5(down), "download of " + snapName);
            }
            Files.delete(down);

            for (String backend : List.of("docker", "lxc")) {
                String again = "snap-of-" + from + "-on-" + backend;
                try {
                    boot(again, id, backend);
                    assertEquals(content, berth.ok("nova:exec " + again + " -- cat /root/snap.txt").out().strip(),
                            again + " has the file written before the snapshot");
                } catch (AssertionError e) {
                    failures.add(again + ": " + e.getMessage());
                }
            }
        }
        assertTrue(failures.isEmpty(), "snapshot boots that failed:\n" + String.join("\n", failures));
        bootMillis.forEach((b, ms) -> {
            List<Long> sorted = ms.stream().sorted().toList();
            System.out.printf("e2e nova:boot on %s (./berth -c through the control socket, images from Glance):"
                    + " n=%d median %d ms max %d ms%n", b, sorted.size(), sorted.get(sorted.size() / 2),
                    sorted.get(sorted.size() - 1));
        });
    }

    // --- Berth side

    private long boot(String name, String image, String backend) throws Exception {
        Launcher.Result r = berth.run("nova:boot --image " + image + " --flavor c1.nano --backend " + backend
                + " --command \"sleep 100000\" " + name);
        if (r.exit() == 0 || berth.run("nova:show " + name).exit() == 0) {
            instances.add(name);
        }
        assertEquals(0, r.exit(), r::describe);
        Map<String, String> s = Launcher.properties(r.out());
        assertEquals("ACTIVE", s.get("status"), r::describe);
        assertEquals(backend, s.get("backend"));
        System.out.printf("e2e boot %s (image %s) on %s: ./berth -c nova:boot %d ms%n", name, image, backend,
                r.millis());
        bootMillis.computeIfAbsent(backend, k -> new ArrayList<>()).add(r.millis());
        if (!dockerTags.contains(image)) {
            dockerTags.add(image);
        }
        return r.millis();
    }

    private String berthImport(String name, String containerFormat, Path file) throws Exception {
        Launcher.Result r = berth.ok("glance:import --name " + name + " --container-format " + containerFormat
                + " --disk-format raw --source " + NA + " " + file);
        String id = Launcher.properties(r.out()).get("id");
        assertNotNull(id, r::describe);
        noauthImages.add(id);
        return id;
    }

    private void configureSources(Map<String, String> creds) throws IOException {
        Path deploy = berth.state.resolve("deploy");
        Files.writeString(deploy.resolve("berth.image.glance-" + NA + ".cfg"), String.join("\n",
                "berth.image.source=" + NA,
                "auth=noauth",
                "endpoint=" + creds.getOrDefault("BERTH_TEST_GLANCE_URL", NOAUTH),
                "noauth.project=" + berth.scope,
                "noauth.roles=member,reader", ""));
        Files.writeString(deploy.resolve("berth.image.glance-" + KS + ".cfg"), String.join("\n",
                "berth.image.source=" + KS,
                "auth=keystone",
                "keystone.url=" + creds.getOrDefault("BERTH_TEST_KEYSTONE_URL", KEYSTONE),
                "username=" + creds.get("BERTH_TEST_KEYSTONE_USER"),
                ".password=" + creds.get("BERTH_TEST_KEYSTONE_PASSWORD"),
                "project=" + creds.get("BERTH_TEST_KEYSTONE_PROJECT"), ""));
    }

    // --- images

    private Path rootfsTar(String marker) throws Exception {
        Path dir = tmp.resolve("rootfs");
        Files.createDirectories(dir.resolve("bin"));
        Files.createDirectories(dir.resolve("etc"));
        Files.createDirectories(dir.resolve("root"));
        Files.createDirectories(dir.resolve("tmp"));
        Files.copy(Path.of("/bin/busybox"), dir.resolve("bin/busybox"));
        for (String l : new String[] {"sh", "sleep", "cat", "echo", "ls", "mkdir", "sync", "ip", "httpd", "ping",
            "wget"}) {
            Files.createSymbolicLink(dir.resolve("bin").resolve(l), Path.of("busybox"));
        }
        Files.writeString(dir.resolve("etc/e2e-image"), marker + "\n");
        Path tar = tmp.resolve("rootfs.tar");
        Sh.Out t = Sh.run(60, "tar", "--numeric-owner", "-C", dir.toString(), "-cf", tar.toString(), ".");
        assertEquals(0, t.exit(), t.err());
        return tar;
    }

    private Path dockerArchive(Path rootfs) throws Exception {
        String tag = "berth-e2e/" + berth.scope + ":1";
        Sh.Out i = Sh.run(120, "docker", "import", rootfs.toString(), tag);
        assertEquals(0, i.exit(), i.err());
        Path archive = tmp.resolve("docker.tar");
        Sh.Out s = Sh.run(120, "docker", "save", "-o", archive.toString(), tag);
        assertEquals(0, s.exit(), s.err());
        Sh.run(60, "docker", "rmi", tag);
        return archive;
    }

    // --- Glance side

    private void ensureGlance() throws Exception {
        if (!answers(NOAUTH) || !answers(KS_GLANCE) || !answers(KEYSTONE)) {
            Path script = berth.root.resolve("bin/services/glance");
            if (Files.isExecutable(script) && Launcher.isRoot()) {
                Sh.Out s = Sh.run(900, script.toString(), "start");
                System.out.println("bin/services/glance start: exit " + s.exit() + "\n" + s.out() + s.err());
            }
        }
        Launcher.require(answers(NOAUTH), "the no-auth glance-api on " + NOAUTH + " (bin/services/glance start)");
        Launcher.require(answers(KS_GLANCE), "the Keystone-backed glance-api on " + KS_GLANCE);
        Launcher.require(answers(KEYSTONE), "keystone on " + KEYSTONE);
    }

    private static boolean jsonHas(String json, String key, String value) {
        return java.util.regex.Pattern.compile("\"" + java.util.regex.Pattern.quote(key) + "\"\\s*:\\s*\""
                + java.util.regex.Pattern.quote(value) + "\"").matcher(json).find();
    }

    /** GET from the no-auth Glance as the test's project; into a file when one is given. */
    private String noauth(String path, Path into) throws Exception {
        HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create(NOAUTH + path)).timeout(Duration.ofSeconds(120))
                .header("X-Identity-Status", "Confirmed").header("X-Project-Id", berth.scope)
                .header("X-Roles", "member,reader").GET().build();
        if (into != null) {
            HttpResponse<Path> r = c.send(req, HttpResponse.BodyHandlers.ofFile(into));
            assertEquals(200, r.statusCode(), "GET " + path);
            return "";
        }
        HttpResponse<String> r = c.send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), "GET " + path + ": " + r.body());
        return r.body();
    }

    private static boolean answers(String url) {
        try {
            HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
            HttpResponse<Void> r = c.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5))
                    .GET().build(), HttpResponse.BodyHandlers.discarding());
            return r.statusCode() < 500;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static Map<String, String> credentials() throws IOException {
        String dir = System.getenv().getOrDefault("BERTH_GLANCE_STATE", "/var/lib/berth-test/glance");
        Path f = Path.of(dir, "credentials.env");
        Launcher.require(Files.isRegularFile(f), f + " (written by bin/services/glance start)");
        Map<String, String> m = new LinkedHashMap<>();
        for (String l : Files.readAllLines(f)) {
            int eq = l.indexOf('=');
            if (!l.startsWith("#") && eq > 0) {
                m.put(l.substring(0, eq).strip(), l.substring(eq + 1).strip());
            }
        }
        return m;
    }

    /** Debian's glance CLI as the test user; stdin closed, or it complains about --file and stdin both. */
    private Sh.Out glance(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("bash", "-c", "exec glance \"$@\" 0<&-", "glance"));
        argv.addAll(List.of(args));
        return Sh.run(300, cliEnv, argv.toArray(String[]::new));
    }

    private String cliCreate(String name, String containerFormat, Path file) throws Exception {
        Sh.Out r = glance("image-create", "--name", name, "--container-format", containerFormat, "--disk-format",
                "raw", "--file", file.toString());
        assertEquals(0, r.exit(), () -> "glance image-create " + name + "\n" + r.out() + r.err());
        String id = Launcher.properties(r.out()).get("id");
        assertNotNull(id, r.out());
        cliImages.add(id);
        return id;
    }

    private static String md5(Path f) throws Exception {
        MessageDigest md = MessageDigest.getInstance("MD5");
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
