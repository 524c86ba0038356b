package berth.network.bridge.internal;

import berth.driver.api.Vif;
import java.nio.file.Path;
import java.util.List;

/**
 * Child JVM for the kill -9 test: allocates forever on a network, printing each VIF after allocate returned (so it
 * was durable by then), until its parent kills it.
 */
public final class AllocatorChild {
    public static void main(String[] args) throws Exception {
        NetworkSpec net = NetworkSpec.of("k", "btest0", args[1], "", List.of(), 0);
        try (VifStore s = new VifStore(Path.of(args[0]))) {
            System.out.println("ready");
            System.out.flush();
            for (int i = 0; i < 100_000; i++) {
                Vif v = s.allocate(net, args[2] + "-" + i, "eth0");
                System.out.println(v.id() + " " + v.address() + " " + v.mac());
                System.out.flush();
            }
        }
    }
}
