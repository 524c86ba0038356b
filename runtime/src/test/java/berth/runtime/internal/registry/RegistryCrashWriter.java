package berth.runtime.internal.registry;

import berth.driver.api.PowerState;
import berth.driver.api.TaskState;
import berth.driver.api.Vif;
import berth.driver.api.VmState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Child process of {@link RegistryKillTest}: writes records as fast as it can and prints {@code W <uuid> <seq>}
 * after each write has returned, until it is killed (or a bounded number of writes is reached).
 */
public final class RegistryCrashWriter {
    private RegistryCrashWriter() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int max = Integer.parseInt(args[1]);
        InstanceRegistry registry = new InstanceRegistry(dir);
        List<InstanceRecord> mine = new ArrayList<>();
        System.out.println("READY " + registry.all().size());
        System.out.flush();
        for (int seq = 1; seq <= max; seq++) {
            InstanceRecord r;
            if (seq % 3 == 0 && !mine.isEmpty()) {
                // rewrite an existing record too: a kill during a rename must leave the old or the new version
                InstanceRecord old = mine.get(seq % mine.size());
                r = old.edit().metadata(Map.of("seq", Integer.toString(seq))).taskState(null)
                        .vmState(seq % 2 == 0 ? VmState.STOPPED : VmState.ACTIVE).build();
                mine.set(seq % mine.size(), r);
            } else {
                String uuid = UUID.randomUUID().toString();
                r = InstanceRecord.builder().uuid(uuid).name("crash-" + seq).flavor("c1.nano").imageId("img-1")
                        .imageSource("local").backend("fake").vmState(VmState.BUILDING)
                        .taskState(TaskState.SPAWNING).powerState(PowerState.NOSTATE)
                        .vifs(List.of(new Vif(uuid, "default", "brtest0", "02:00:00:00:00:01", "10.0.0.2", 24,
                                "10.0.0.1", List.of("10.0.0.1"), 1500, "eth0")))
                        .metadata(Map.of("seq", Integer.toString(seq))).command(List.of("sleep", "1000"))
                        .build();
                mine.add(r);
            }
            registry.put(r);
            System.out.println("W " + r.uuid() + " " + seq);
            System.out.flush();
        }
        System.out.println("DONE");
    }
}
