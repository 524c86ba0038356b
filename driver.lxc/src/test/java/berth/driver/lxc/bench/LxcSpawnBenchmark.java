package berth.driver.lxc.bench;

import berth.driver.api.ContainerFormat;
import berth.driver.api.Flavor;
import berth.driver.api.PowerState;
import berth.driver.api.spi.DriverInstance;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SpawnSpec;
import berth.driver.lxc.internal.LxcComputeDriver;
import berth.driver.lxc.internal.LxcEngine;
import berth.driver.lxc.internal.LxcSettings;
import berth.driver.lxc.internal.TestTars;
import berth.driver.lxc.internal.image.SafeTarExtractor;
import berth.driver.lxc.internal.jna.Liblxc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark, not a test: Berth's LXC spawn of a cached image against {@code lxc-create -t busybox} +
 * {@code lxc-start -d} in the same run, and system memory per instance with 50 instances. Run by
 * {@code bin/bench-lxc-spawn}; prints figures only.
 */
public final class LxcSpawnBenchmark {
    private LxcSpawnBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 25;
        int fleet = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        Path work = Path.of(args.length > 2 ? args[2] : "/tmp/berth-bench-lxc").toAbsolutePath();
        SafeTarExtractor.deleteTree(work);
        Path lxcpath = Files.createDirectories(work.resolve("lxc"));
        Path plain = Files.createDirectories(work.resolve("plain"));
        LocalImage image = TestTars.localImage(new TestTars().busyboxRoot().writeTo(work.resolve("busybox.tar")),
                ContainerFormat.BARE);
        Flavor flavor = new Flavor("c1.nano", 64, 1, 64);
        Liblxc lxc = Liblxc.load("lxc");
        LxcComputeDriver driver = new LxcComputeDriver(new LxcEngine(lxc, LxcSettings.of(lxcpath, "bench")));
        try {
            // Warm-up: unpacks the image base once (cached afterwards) and warms the JIT.
            for (int i = 0; i < 3; i++) {
                String u = UUID.randomUUID().toString();
                driver.spawn(new SpawnSpec(u, "warm", flavor, image, Map.of(), List.of()));
                driver.destroy(u);
            }
            List<Double> berth = new ArrayList<>();
            List<Double> create = new ArrayList<>();
            List<Double> start = new ArrayList<>();
            List<Double> createStart = new ArrayList<>();
            Path conf = work.resolve("plain.conf");
            Files.writeString(conf, "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n");
            for (int i = 0; i < runs; i++) {
                String u = UUID.randomUUID().toString();
                long t0 = System.nanoTime();
                DriverInstance d = driver.spawn(new SpawnSpec(u, "bench", flavor, image, Map.of(), List.of()));
                berth.add((System.nanoTime() - t0) / 1e6);
                if (d.powerState() != PowerState.RUNNING) {
                    throw new IllegalStateException("spawned container is " + d.powerState());
                }
                driver.destroy(u);

                String n = "bb" + i;
                long c0 = System.nanoTime();
                run("lxc-create", "-q", "-t", "busybox", "-n", n, "-P", plain.toString(), "-f", conf.toString());
                long c1 = System.nanoTime();
                run("lxc-start", "-n", n, "-P", plain.toString(), "-d");
                long c2 = System.nanoTime();
                create.add((c1 - c0) / 1e6);
                start.add((c2 - c1) / 1e6);
                createStart.add((c2 - c0) / 1e6);
                run("lxc-stop", "-k", "-n", n, "-P", plain.toString());
                run("lxc-destroy", "-n", n, "-P", plain.toString());
            }
            System.out.printf("runs=%d%n", runs);
            System.out.printf("berth lxc spawn (cached image, to RUNNING): median %.1f ms (min %.1f, max %.1f)%n",
                    median(berth), min(berth), max(berth));
            System.out.printf("lxc-create -t busybox: median %.1f ms; lxc-start -d: median %.1f ms;"
                    + " together median %.1f ms%n", median(create), median(start), median(createStart));

            // Memory: 50 running instances, system memory (MemTotal - MemAvailable) before and after.
            System.gc();
            Thread.sleep(1000);
            long before = usedKb();
            long jvmBefore = rssKb();
            List<String> all = new ArrayList<>();
            long f0 = System.nanoTime();
            for (int i = 0; i < fleet; i++) {
                String u = UUID.randomUUID().toString();
                driver.spawn(new SpawnSpec(u, "fleet" + i, flavor, image, Map.of(), List.of()));
                all.add(u);
            }
            double fleetMs = (System.nanoTime() - f0) / 1e6;
            Thread.sleep(2000);
            long after = usedKb();
            long jvmAfter = rssKb();
            long cg = 0;
            long pss = 0;
            long monitorPss = 0;
            for (String u : all) {
                cg += driver.diagnostics(u).memoryBytes();
                pss += pssKb(Path.of("/sys/fs/cgroup/memory/lxc.payload.berth-" + u + "/cgroup.procs"));
                monitorPss += pssKb(Path.of("/sys/fs/cgroup/memory/lxc.monitor.berth-" + u + "/cgroup.procs"));
            }
            System.out.printf("PSS per instance: container processes %.2f MB + lxc monitor %.2f MB%n",
                    pss / 1024.0 / fleet, monitorPss / 1024.0 / fleet);
            System.out.printf("%d instances spawned one by one in %.0f ms (%.1f ms each)%n", fleet, fleetMs,
                    fleetMs / fleet);
            System.out.printf("system memory per instance at %d: %.2f MB (MemTotal-MemAvailable delta); without"
                    + " this JVM's own growth (%.1f MB): %.2f MB; cgroup memory.usage per container %.2f MB%n",
                    fleet, (after - before) / 1024.0 / fleet, (jvmAfter - jvmBefore) / 1024.0,
                    (after - before - (jvmAfter - jvmBefore)) / 1024.0 / fleet, cg / 1024.0 / 1024.0 / fleet);
            for (String u : all) {
                driver.destroy(u);
            }
        } finally {
            for (DriverInstance d : driver.list()) {
                driver.destroy(d.uuid());
            }
            driver.close();
            SafeTarExtractor.deleteTree(work);
        }
    }

    private static long usedKb() throws Exception {
        long total = 0;
        long avail = 0;
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith("MemTotal:")) {
                total = Long.parseLong(l.replaceAll("\\D", ""));
            } else if (l.startsWith("MemAvailable:")) {
                avail = Long.parseLong(l.replaceAll("\\D", ""));
            }
        }
        return total - avail;
    }

    private static long pssKb(Path procs) {
        long kb = 0;
        try {
            for (String pid : Files.readAllLines(procs)) {
                for (String l : Files.readAllLines(Path.of("/proc", pid.strip(), "smaps_rollup"))) {
                    if (l.startsWith("Pss:")) {
                        kb += Long.parseLong(l.replaceAll("\\D", ""));
                    }
                }
            }
        } catch (Exception e) {
            // cgroup v2 or a process that just exited: count what was readable
        }
        return kb;
    }

    private static long rssKb() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("\\D", ""));
            }
        }
        return 0;
    }

    private static void run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectInput(ProcessBuilder.Redirect.from(
                        new java.io.File("/dev/null"))).start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", argv) + " failed");
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double min(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).min().orElse(0);
    }

    private static double max(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }
}
