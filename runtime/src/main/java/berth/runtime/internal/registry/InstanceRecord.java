package berth.runtime.internal.registry;

import berth.driver.api.Instance;
import berth.driver.api.PowerState;
import berth.driver.api.TaskState;
import berth.driver.api.Vif;
import berth.driver.api.VmState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The registry's durable record of one instance: everything {@link Instance} shows, plus what the compute manager
 * needs to survive a crash or a missing backend.
 *
 * @param uuid           stable identity, also the file name
 * @param name           instance name
 * @param flavor         flavor name
 * @param imageId        image it was booted from
 * @param imageSource    image source that served the image (and holds the pin), or {@code null}
 * @param backend        backend that owns the container
 * @param vmState        what Berth intends
 * @param taskState      operation in progress, or {@code null}
 * @param powerState     last power state seen
 * @param vifs           VIFs allocated to it (released ones are removed)
 * @param metadata       user metadata
 * @param fault          reason of the last failure, or {@code null}
 * @param created        creation time
 * @param updated        time of the last change
 * @param stopRequested  Berth asked the engine to stop it, so an exit that follows is SHUTDOWN, not CRASHED
 * @param pendingCleanup what still has to be undone once the owner of it is present again
 * @param command        the command line given at boot (empty: the image's)
 * @param initPid        init pid the VIFs were last plugged into, 0 when unknown or not running
 */
public record InstanceRecord(String uuid, String name, String flavor, String imageId, String imageSource,
        String backend, VmState vmState, TaskState taskState, PowerState powerState, List<Vif> vifs,
        Map<String, String> metadata, String fault, Instant created, Instant updated, boolean stopRequested,
        Set<Cleanup> pendingCleanup, List<String> command, long initPid) {

    /** Leftovers of an instance that could not be removed when it was deleted or rolled back. */
    public enum Cleanup {
        /** the engine still holds the container: destroy it when the backend is present */
        CONTAINER,
        /** the VIFs in {@link InstanceRecord#vifs()} are still allocated: unplug and release them */
        VIFS,
        /** the image source still pins the image for this instance: release it */
        IMAGE
    }

    public InstanceRecord {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(flavor, "flavor");
        Objects.requireNonNull(imageId, "imageId");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(vmState, "vmState");
        Objects.requireNonNull(created, "created");
        Objects.requireNonNull(updated, "updated");
        powerState = powerState == null ? PowerState.NOSTATE : powerState;
        vifs = List.copyOf(vifs == null ? List.of() : vifs);
        metadata = Map.copyOf(metadata == null ? Map.of() : metadata);
        pendingCleanup = pendingCleanup == null || pendingCleanup.isEmpty() ? Set.of()
                : Set.copyOf(EnumSet.copyOf(pendingCleanup));
        command = List.copyOf(command == null ? List.of() : command);
    }

    /** @return the API view of this record */
    public Instance toInstance() {
        return new Instance(uuid, name, flavor, imageId, imageSource, backend, vmState, taskState, powerState, vifs,
                metadata, fault, created, updated);
    }

    /** @return the view with another power state (not stored) */
    public Instance toInstance(PowerState shownPower) {
        return new Instance(uuid, name, flavor, imageId, imageSource, backend, vmState, taskState, shownPower, vifs,
                metadata, fault, created, updated);
    }

    /** @return a builder holding this record's values, to derive a changed copy */
    public Builder edit() {
        return new Builder(this);
    }

    /** @return a builder for a new record */
    public static Builder builder() {
        return new Builder(null);
    }

    /** Mutable copy of a record; {@link #build()} stamps {@code updated}. */
    public static final class Builder {
        private String uuid;
        private String name;
        private String flavor;
        private String imageId;
        private String imageSource;
        private String backend;
        private VmState vmState = VmState.BUILDING;
        private TaskState taskState;
        private PowerState powerState = PowerState.NOSTATE;
        private List<Vif> vifs = new ArrayList<>();
        private Map<String, String> metadata = new LinkedHashMap<>();
        private String fault;
        private Instant created;
        private boolean stopRequested;
        private Set<Cleanup> pendingCleanup = EnumSet.noneOf(Cleanup.class);
        private List<String> command = new ArrayList<>();
        private long initPid;

        private Builder(InstanceRecord r) {
            if (r != null) {
                uuid = r.uuid;
                name = r.name;
                flavor = r.flavor;
                imageId = r.imageId;
                imageSource = r.imageSource;
                backend = r.backend;
                vmState = r.vmState;
                taskState = r.taskState;
                powerState = r.powerState;
                vifs = new ArrayList<>(r.vifs);
                metadata = new LinkedHashMap<>(r.metadata);
                fault = r.fault;
                created = r.created;
                stopRequested = r.stopRequested;
                pendingCleanup.addAll(r.pendingCleanup);
                command = new ArrayList<>(r.command);
                initPid = r.initPid;
            }
        }

        public Builder uuid(String v) { uuid = v; return this; }
        public Builder name(String v) { name = v; return this; }
        public Builder flavor(String v) { flavor = v; return this; }
        public Builder imageId(String v) { imageId = v; return this; }
        public Builder imageSource(String v) { imageSource = v; return this; }
        public Builder backend(String v) { backend = v; return this; }
        public Builder vmState(VmState v) { vmState = v; return this; }
        public Builder taskState(TaskState v) { taskState = v; return this; }
        public Builder powerState(PowerState v) { powerState = v; return this; }
        public Builder vifs(List<Vif> v) { vifs = new ArrayList<>(v); return this; }
        public Builder metadata(Map<String, String> v) { metadata = new LinkedHashMap<>(v); return this; }
        public Builder fault(String v) { fault = v; return this; }
        public Builder created(Instant v) { created = v; return this; }
        public Builder stopRequested(boolean v) { stopRequested = v; return this; }
        public Builder command(List<String> v) { command = new ArrayList<>(v); return this; }
        public Builder initPid(long v) { initPid = v; return this; }

        public Builder addCleanup(Cleanup c) {
            pendingCleanup.add(c);
            return this;
        }

        public Builder removeCleanup(Cleanup c) {
            pendingCleanup.remove(c);
            return this;
        }

        /** @return the record, {@code updated} set to now */
        public InstanceRecord build() {
            Instant now = Instant.now();
            return new InstanceRecord(uuid, name, flavor, imageId, imageSource, backend, vmState, taskState,
                    powerState, vifs, metadata, fault, created == null ? now : created, now, stopRequested,
                    pendingCleanup, command, initPid);
        }
    }
}
