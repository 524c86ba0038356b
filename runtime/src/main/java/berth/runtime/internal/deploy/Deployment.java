package berth.runtime.internal.deploy;

import java.time.Instant;
import java.util.Objects;

/**
 * What the deployer last did with one jar of the deploy folder.
 *
 * @param file          the jar's file name in the deploy folder
 * @param symbolicName  its Bundle-SymbolicName, empty when it has none
 * @param version       its Bundle-Version
 * @param sha256        the first 16 hex digits of its SHA-256
 * @param state         the outcome
 * @param bundleId      id of the bundle now serving from this jar, -1 when none
 * @param replaced      what it replaced ("berth.driver.docker 0.1.0 [12]"), empty for none
 * @param switchMillis  from starting the new build until the old one was gone, -1 when nothing was switched
 * @param reason        one line: what happened, or why it failed
 * @param when          when it happened
 */
public record Deployment(String file, String symbolicName, String version, String sha256, State state, long bundleId,
        String replaced, long switchMillis, String reason, Instant when) {

    /** Outcome of one deployment. */
    public enum State {
        /** Installed and started; no earlier build of the bundle was present. */
        INSTALLED,
        /** Installed beside an earlier build, served, and the earlier build was removed. */
        SWITCHED,
        /** The new build was refused and removed; any earlier build keeps serving. */
        FAILED,
        /** The jar left the deploy folder and its bundle was uninstalled. */
        REMOVED
    }

    public Deployment {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(when, "when");
        symbolicName = symbolicName == null ? "" : symbolicName;
        version = version == null ? "" : version;
        sha256 = sha256 == null ? "" : sha256;
        replaced = replaced == null ? "" : replaced;
        reason = reason == null ? "" : reason;
    }
}
