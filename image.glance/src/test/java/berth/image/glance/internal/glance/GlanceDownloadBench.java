package berth.image.glance.internal.glance;

import berth.driver.api.spi.LocalImage;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Not a test: the download figure for bin/bench-glance-download. Acquires one image through GlanceImageSource
 * (download, MD5 + SHA-512 + SHA-256, fsync, rename) several times into fresh caches and prints the time and the
 * heap: used after a full GC before and after, and the highest sampled use in between.
 *
 * <p>Arguments: glance-url project image-id state-dir rounds
 */
public final class GlanceDownloadBench {
    private GlanceDownloadBench() {
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    public static void main(String[] args) throws Exception {
        URI url = URI.create(args[0]);
        String project = args[1];
        String imageId = args[2];
        Path stateDir = Path.of(args[3]);
        int rounds = Integer.parseInt(args[4]);
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int round = 1; round <= rounds; round++) {
            Path state = stateDir.resolve("round-" + round);
            GlanceImageSource source = GlanceServices.source(GlanceServices.noauth("bench", url, state, project,
                    List.of("member"), 4L << 30, Duration.ofSeconds(60), Duration.ofSeconds(60)));
            try {
                System.gc();
                long before = memory.getHeapMemoryUsage().getUsed();
                AtomicLong peak = new AtomicLong(before);
                Thread sampler = new Thread(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        peak.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                        try {
                            Thread.sleep(20);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                sampler.setDaemon(true);
                sampler.start();
                long cpu0 = processCpuNanos();
                long t0 = System.nanoTime();
                LocalImage local = source.acquire(imageId, "bench", null);
                double secs = (System.nanoTime() - t0) / 1e9;
                double cpu = (processCpuNanos() - cpu0) / 1e9;
                sampler.interrupt();
                sampler.join();
                long size = Files.size(local.file());
                System.gc();
                long after = memory.getHeapMemoryUsage().getUsed();
                System.out.printf("berth round %d: %d bytes in %.3f s = %.1f MB/s; heap used after GC %.1f MB"
                        + " before, %.1f MB after, sampled peak %.1f MB (max heap %.0f MB)%n", round, size, secs,
                        size / 1e6 / secs, before / 1e6, after / 1e6, peak.get() / 1e6,
                        memory.getHeapMemoryUsage().getMax() / 1e6);
                System.out.printf("             (JVM CPU during the acquire %.2f s)%n", cpu);
                System.out.printf("berth-seconds %.3f%n", secs);
                source.release(imageId, "bench");
                Files.delete(local.file());
            } finally {
                source.close();
            }
        }
    }
}
