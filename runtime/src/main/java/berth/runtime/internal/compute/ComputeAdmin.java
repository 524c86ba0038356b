package berth.runtime.internal.compute;

import java.util.List;
import java.util.Optional;

/**
 * What the runtime's own shell needs from the compute manager beyond {@link berth.driver.api.ComputeService}.
 * Internal to the runtime bundle; registered as a service by {@link ComputeManager}.
 */
public interface ComputeAdmin {

    /**
     * Makes {@code backend} the default for new boots and persists it in the {@code berth.compute} configuration
     * (ConfigAdmin), so it survives a restart. An empty name returns to "highest ranking decides".
     *
     * @param backend backend name, for example {@code lxc}, or empty
     * @return whether it was persisted (false: no ConfigurationAdmin present, set for this run only)
     * @throws berth.driver.api.InvalidInputException for a malformed name
     */
    boolean preferBackend(String backend);

    /** @return the configured preferred backend, empty when ranking decides */
    Optional<String> preferredBackend();

    /** @return the backend a boot without {@code --backend} would use now, empty when none is present */
    Optional<String> defaultBackend();

    /**
     * @return the configured default network name; a boot that asks for the network {@code default} gets this
     *         one
     */
    String defaultNetwork();

    /** @return the last reconcile of each backend, oldest backend name first */
    List<ReconcileReport> reconcileReport();

    /**
     * Reconciles every present backend now (what happens by itself whenever a driver binds) and retries pending
     * clean-ups.
     *
     * @return the new reports
     */
    List<ReconcileReport> reconcile();

    /**
     * Destroys a container that the last reconcile reported as an orphan (its engine labels it as Berth's, in
     * this scope, and no record names it). Refuses any uuid the registry knows.
     *
     * @param uuid the uuid on the orphan's label
     * @return the backend it was removed from
     * @throws berth.driver.api.NotFoundException when no present backend reported such an orphan
     * @throws berth.driver.api.ConflictException when the registry knows the uuid
     */
    String destroyOrphan(String uuid);

    /** @return problems found while loading the registry (unreadable records), one line each */
    List<String> registryProblems();
}
