package berth.runtime.internal.deploy;

import java.nio.file.Path;
import java.util.List;

/** The hot deployer as the shell and tests see it. Internal to the runtime bundle. */
public interface Deployments {

    /** @return the folder watched for bundle jars */
    Path folder();

    /** @return the latest outcome per jar, by file name */
    List<Deployment> current();

    /** @return every outcome since the runtime started, oldest first (bounded) */
    List<Deployment> history();

    /**
     * The latest refusal of a build of {@code symbolicName} that is still the latest outcome of its jar, for
     * status lines such as {@code nova:backends}' detail.
     *
     * @param symbolicName a Bundle-SymbolicName, e.g. {@code berth.driver.docker}
     * @return "deploy of FILE (VERSION) refused: REASON", or empty
     */
    default java.util.Optional<String> refusal(String symbolicName) {
        return current().stream()
                .filter(d -> d.state() == Deployment.State.FAILED && d.symbolicName().equals(symbolicName))
                .max(java.util.Comparator.comparing(Deployment::when))
                .map(d -> "deploy of " + d.file() + " (" + d.version() + ") refused: " + d.reason());
    }

    /**
     * Scans the folder now instead of at the next poll, and waits for the scan (and any switch it starts).
     *
     * @return the outcomes this scan produced
     */
    List<Deployment> scanNow();
}
