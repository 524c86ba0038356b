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
     * Scans the folder now instead of at the next poll, and waits for the scan (and any switch it starts).
     *
     * @return the outcomes this scan produced
     */
    List<Deployment> scanNow();
}
