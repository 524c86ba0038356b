package berth.driver.docker.internal;

import berth.driver.api.ContainerFormat;
import berth.driver.api.Flavor;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SpawnSpec;
import berth.image.glance.internal.local.LocalImageStore;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.HostConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Benchmark, not a test: a driver-level spawn of a cached image without network, against the raw Engine API's
 * create + start with the same settings, interleaved in the same run. Prints medians and their ratio (goal
 * &lt;= 1.05). Run by {@code bin/bench-docker-spawn [runs]}.
 */
public final class DockerSpawnBench {

    private DockerSpawnBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 25;
        int warmup = 3;
        DockerSettings settings = new DockerSettings(DockerTestEngine.host(), false, "");
        var probe = DockerTestEngine.probe(settings);
        if (probe.value() == null) {
            System.err.println(probe.problem());
            System.exit(2);
        }
        Path state = Files.createTempDirectory("berth-bench");
        LocalImageStore store = new LocalImageStore(state.resolve("images"), Path.of("/bin/busybox"));
        String scope = "bench-" + UUID.randomUUID().toString().substring(0, 8);
        Flavor flavor = new Flavor("c1.small", 256, 1, 256);
        List<Long> driverNanos = new ArrayList<>();
        List<Long> rawNanos = new ArrayList<>();
        List<Long> rawInspectNanos = new ArrayList<>();
        try (DockerComputeDriver driver = new DockerComputeDriver(probe.value(),
                new DockerComputeDriver.Options(scope, state, false));
                DockerSettings.Clients raw = settings.connect(null)) {
            LocalImage image = DockerTestEngine.seeded(store, ContainerFormat.DOCKER, "bench");
            String ref = driver.ensureImage(image); // cached before timing: the benchmark is of a cached image
            DockerClient docker = raw.docker();
            for (int i = 0; i < warmup + runs; i++) {
                boolean measure = i >= warmup;
                // rotate which goes first, so drift in the engine does not favour one side
                for (int k = 0; k < 3; k++) {
                    int side = (k + i) % 3;
                    String uuid = UUID.randomUUID().toString();
                    // let the engine (and the driver's event thread) finish the previous removal first
                    Thread.sleep(100);
                    if (side == 0) {
                        long t0 = System.nanoTime();
                        DriverInstance inst = driver.spawn(new SpawnSpec(uuid, "bench", flavor, image, Map.of(),
                                List.of()));
                        long t = System.nanoTime() - t0;
                        if (inst.initPid() <= 0) {
                            throw new IllegalStateException("spawn returned no pid");
                        }
                        if (measure) {
                            driverNanos.add(t);
                        }
                        driver.destroy(uuid);
                    } else {
                        HostConfig host = HostConfig.newHostConfig().withNetworkMode("none").withInit(true)
                                .withMemory(flavor.memoryBytes()).withMemorySwap(flavor.memoryBytes())
                                .withCpuShares(1024 * flavor.vcpus()).withPidsLimit((long) flavor.pidsLimit())
                                .withPrivileged(false);
                        long t0 = System.nanoTime();
                        String id = docker.createContainerCmd(ref).withName("berth-" + scope + "-raw-" + uuid)
                                .withHostName("bench")
                                .withLabels(Map.of("berth.instance", uuid, "berth.scope", scope + "-raw",
                                        "berth.flavor", flavor.name(), "berth.image", image.info().id()))
                                .withEnv(List.of()).withHostConfig(host).exec().getId();
                        docker.startContainerCmd(id).exec();
                        if (side == 2 && docker.inspectContainerCmd(id).exec().getState().getPidLong() <= 0) {
                            throw new IllegalStateException("no pid");
                        }
                        long t = System.nanoTime() - t0;
                        if (measure) {
                            (side == 1 ? rawNanos : rawInspectNanos).add(t);
                        }
                        docker.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
                    }
                }
            }
            driver.releaseImage(image.info().id());
            store.release(image.info().id(), "bench");
        }
        double d = median(driverNanos) / 1e6;
        double r = median(rawNanos) / 1e6;
        System.out.printf("docker spawn benchmark: %d runs each (after %d warm-up), interleaved, cached image, "
                + "NetworkMode none%n",
                runs, warmup);
        System.out.printf("  driver spawn (create + start + inspect for the pid):            median %.1f ms "
                + "(min %.1f, max %.1f)%n", d, Collections.min(driverNanos) / 1e6, Collections.max(driverNanos) / 1e6);
        System.out.printf("  raw Engine API create + start:                                  median %.1f ms "
                + "(min %.1f, max %.1f)%n", r, Collections.min(rawNanos) / 1e6, Collections.max(rawNanos) / 1e6);
        double ri = median(rawInspectNanos) / 1e6;
        System.out.printf("  raw Engine API create + start + inspect (the pid a driver returns): median %.1f ms%n", ri);
        System.out.printf("  ratio driver/raw create+start: %.3f (goal <= 1.05); driver/raw with inspect: %.3f%n",
                d / r, d / ri);
        System.out.printf("  load average at the end: %s%n", Files.readString(Path.of("/proc/loadavg")).strip());
        new ProcessBuilder("rm", "-rf", state.toString()).start().waitFor();
        System.exit(0);
    }

    private static double median(List<Long> values) {
        List<Long> s = new ArrayList<>(values);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2.0;
    }
}
