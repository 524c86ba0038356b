package berth.runtime.internal.compute;

import berth.driver.api.PowerState;
import java.time.Instant;
import java.util.List;

/**
 * Outcome of comparing the registry with one backend's engine.
 *
 * @param backend     backend name
 * @param when        when it ran
 * @param orphans     containers of Berth's scope that the registry does not know
 * @param missing     uuids of instances the registry has and the engine lacks (now ERROR "missing in engine")
 * @param cleaned     uuids whose leftovers (deleted or rolled back instances) were removed
 * @param refreshed   number of instances whose power state was read from the engine
 * @param error       why the engine could not be listed, or {@code null}
 */
public record ReconcileReport(String backend, Instant when, List<Orphan> orphans, List<String> missing,
        List<String> cleaned, int refreshed, String error) {

    public ReconcileReport {
        orphans = List.copyOf(orphans);
        missing = List.copyOf(missing);
        cleaned = List.copyOf(cleaned);
    }

    /**
     * A container the engine holds under Berth's labels that no record names.
     *
     * @param uuid       the uuid on its label
     * @param engineId   the engine's id or name
     * @param powerState its power state
     */
    public record Orphan(String uuid, String engineId, PowerState powerState) {
    }

    /** @return one line for logs and {@code nova:backends} */
    public String summary() {
        if (error != null) {
            return "reconcile failed: " + error;
        }
        return orphans.size() + " orphan(s), " + missing.size() + " missing, " + cleaned.size() + " cleaned up";
    }
}
