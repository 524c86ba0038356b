package berth.driver.lxc.internal;

import berth.driver.api.ContainerFormat;
import berth.driver.api.Flavor;
import berth.driver.api.spi.LocalImage;
import berth.driver.api.spi.SpawnSpec;
import berth.driver.lxc.internal.jna.Liblxc;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Child JVM for {@link LxcKillDuringSpawnTest}: spawns and destroys containers until it is killed with -9. */
public final class CrashSpawner {
    private CrashSpawner() {
    }

    public static void main(String[] args) throws Exception {
        Path lxcpath = Path.of(args[0]);
        LocalImage image = TestTars.localImage(Path.of(args[1]), ContainerFormat.BARE);
        LxcComputeDriver d = new LxcComputeDriver(new LxcEngine(Liblxc.load("lxc"), LxcSettings.of(lxcpath,
                args[2])));
        Flavor f = new Flavor("c1.nano", 64, 1, 64);
        System.out.println("ready");
        System.out.flush();
        for (int i = 0; ; i++) {
            String u = UUID.randomUUID().toString();
            d.spawn(new SpawnSpec(u, "crash" + i, f, image, Map.of(), List.of()));
            if (i % 2 == 0) {
                d.destroy(u);
            }
        }
    }
}
