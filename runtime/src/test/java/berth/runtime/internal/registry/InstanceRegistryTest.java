package berth.runtime.internal.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.PowerState;
import berth.driver.api.TaskState;
import berth.driver.api.Vif;
import berth.driver.api.VmState;
import berth.runtime.internal.registry.InstanceRecord.Cleanup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstanceRegistryTest {

    @TempDir
    Path dir;

    static InstanceRecord record(String name) {
        String uuid = UUID.randomUUID().toString();
        return InstanceRecord.builder().uuid(uuid).name(name).flavor("c1.small").imageId("img")
                .imageSource("local").backend("docker").vmState(VmState.ACTIVE).powerState(PowerState.RUNNING)
                .vifs(List.of(new Vif("v-" + name, "default", "brx", "02:aa:bb:cc:dd:ee", "10.1.0.5", 24,
                        "10.1.0.1", List.of(), 1500, "eth0")))
                .metadata(Map.of("k", "v w")).command(List.of("sh", "-c", "echo 'a b'")).initPid(4242)
                .stopRequested(true).addCleanup(Cleanup.IMAGE).build();
    }

    @Test
    void roundTripKeepsEveryField() {
        InstanceRegistry reg = new InstanceRegistry(dir);
        InstanceRecord r = reg.put(record("web1"));
        InstanceRecord back = new InstanceRegistry(dir).get(r.uuid()).orElseThrow();
        assertEquals(r, back);
        assertEquals(PowerState.RUNNING, back.toInstance().powerState());
    }

    @Test
    void onlyRootReadsTheRecords() throws Exception {
        Path reg = dir.resolve("registry");
        new InstanceRegistry(reg).put(record("a"));
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(reg)));
    }

    @Test
    void deletedRecordsAreKeptButNotLive() {
        InstanceRegistry reg = new InstanceRegistry(dir);
        InstanceRecord a = reg.put(record("a"));
        InstanceRecord b = reg.put(record("b"));
        reg.put(b.edit().vmState(VmState.DELETED).build());
        InstanceRegistry again = new InstanceRegistry(dir);
        assertEquals(2, again.all().size());
        assertEquals(List.of(a.uuid()), again.live().stream().map(InstanceRecord::uuid).toList());
    }

    @Test
    void crashBetweenWritesLeavesLoadableState() throws Exception {
        InstanceRegistry reg = new InstanceRegistry(dir);
        InstanceRecord a = reg.put(record("a"));
        InstanceRecord a2 = reg.put(a.edit().taskState(TaskState.REBOOTING).build());
        InstanceRecord b = reg.put(record("b"));
        String full = Files.readString(dir.resolve(b.uuid() + ".json"));
        // what DurableFiles leaves when the process dies before the rename: a temp file, complete or torn
        Files.writeString(dir.resolve("." + a.uuid() + ".json.123456.tmp"), full.substring(0, full.length() / 2));
        Files.writeString(dir.resolve("." + b.uuid() + ".json.99.tmp"), full);
        Files.write(dir.resolve(".x.json.1.tmp"), new byte[0]);
        // a temp file for a record that never reached its first rename
        Files.writeString(dir.resolve("." + UUID.randomUUID() + ".json.7.tmp"), "{\"uuid\":");
        // unrelated files do not disturb loading
        Files.writeString(dir.resolve("README"), "not a record");
        Files.createDirectory(dir.resolve("sub"));

        InstanceRegistry loaded = new InstanceRegistry(dir);
        assertEquals(List.of(), loaded.problems());
        assertEquals(a2, loaded.get(a.uuid()).orElseThrow());
        assertEquals(b, loaded.get(b.uuid()).orElseThrow());
        assertEquals(2, loaded.all().size());
        try (Stream<Path> files = Files.list(dir)) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")));
        }
    }

    @Test
    void damagedRecordIsReportedAndTheRestLoads() throws Exception {
        InstanceRegistry reg = new InstanceRegistry(dir);
        InstanceRecord a = reg.put(record("a"));
        String bad = UUID.randomUUID().toString();
        Files.write(dir.resolve(bad + ".json"), "{\"uuid\": \"".getBytes(StandardCharsets.UTF_8));
        String other = UUID.randomUUID().toString();
        Files.copy(dir.resolve(a.uuid() + ".json"), dir.resolve(other + ".json"));

        InstanceRegistry loaded = new InstanceRegistry(dir);
        assertEquals(1, loaded.all().size());
        assertEquals(a, loaded.get(a.uuid()).orElseThrow());
        assertEquals(2, loaded.problems().size());
        assertTrue(loaded.problems().stream().allMatch(p -> !p.contains("\n")));
    }

    @Test
    void unknownFieldsFromANewerBuildAreIgnored() throws Exception {
        InstanceRegistry reg = new InstanceRegistry(dir);
        InstanceRecord a = reg.put(record("a"));
        Path f = dir.resolve(a.uuid() + ".json");
        String text = Files.readString(f).replaceFirst("\\{", "{\"futureField\": [1,2],");
        Files.writeString(f, text);
        assertEquals(a, new InstanceRegistry(dir).get(a.uuid()).orElseThrow());
    }
}
