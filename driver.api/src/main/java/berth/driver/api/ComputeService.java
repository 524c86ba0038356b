package berth.driver.api;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The compute manager, as Nova's compute-manager role: what the shell and every other front end call. It
 * validates input, serialises operations per instance, picks the backend, composes image, driver and network,
 * records every state change durably and rolls back a failed operation.
 *
 * <p>Instances are named by uuid or by name ({@code ref}). Every method that changes an instance fails with
 * {@link BackendUnavailableException} and changes nothing when the instance's backend is absent.
 */
@org.osgi.annotation.versioning.ProviderType
public interface ComputeService {

    /**
     * Boots an instance and returns once it is ACTIVE.
     *
     * @param request what to boot
     * @param progress told of image transfers
     * @return the ACTIVE instance
     * @throws InvalidInputException  bad name, unknown flavor or network
     * @throws NotFoundException      image not found
     * @throws ConflictException      name in use
     * @throws BackendUnavailableException the asked-for backend is absent, or none is present
     * @throws EngineException        the boot failed; the instance is left in ERROR with the reason and
     *                                everything it had acquired is released
     */
    Instance boot(BootRequest request, ProgressListener progress);

    /**
     * Deletes an instance: its container, VIFs and addresses.
     *
     * @param ref   uuid or name
     * @param force when the backend is absent, mark the record deleted and free the network anyway; the engine's
     *              leftovers are removed when the backend returns
     * @return the record as deleted
     */
    Instance delete(String ref, boolean force);

    /**
     * @param ref  uuid or name
     * @param type soft (stop within the default timeout, start) or hard (kill, start)
     * @return the instance, ACTIVE again
     */
    Instance reboot(String ref, RebootType type);

    /**
     * Powers an instance off.
     *
     * @param ref     uuid or name
     * @param timeout how long the workload has to stop before it is killed
     * @return the instance, STOPPED
     */
    Instance stop(String ref, Duration timeout);

    /**
     * @param ref uuid or name
     * @return the instance, ACTIVE, its VIFs re-plugged
     */
    Instance start(String ref);

    /** @param ref uuid or name @return the instance, PAUSED */
    Instance pause(String ref);

    /** @param ref uuid or name @return the instance, ACTIVE */
    Instance unpause(String ref);

    /** @param ref uuid or name @return the instance, SUSPENDED */
    Instance suspend(String ref);

    /** @param ref uuid or name @return the instance, ACTIVE */
    Instance resume(String ref);

    /**
     * Captures an instance's filesystem as a new image in the image source that served its image (or the
     * default one).
     *
     * @param ref       uuid or name
     * @param imageName name of the new image
     * @param progress  told of the upload
     * @return the new image
     */
    ImageInfo snapshot(String ref, String imageName, ProgressListener progress);

    /**
     * @param ref   uuid or name
     * @param lines how many of the last lines, at least 1
     * @return the instance's console output
     */
    String console(String ref, int lines);

    /**
     * Runs a command inside a running instance.
     *
     * @param ref     uuid or name
     * @param argv    the command and its arguments, not empty
     * @param env     extra environment
     * @param timeout how long it may run
     * @return its exit code and output
     */
    ExecResult exec(String ref, List<String> argv, Map<String, String> env, Duration timeout);

    /**
     * Moves an instance to another backend, keeping uuid, name, flavor and VIFs.
     *
     * @param ref     uuid or name
     * @param backend target backend
     * @param progress told of transfers
     * @return the instance on its new backend
     */
    Instance migrate(String ref, String backend, ProgressListener progress);

    /**
     * Attaches one more VIF to an instance, live if it is running (as Nova's interface-attach).
     *
     * @param ref     uuid or name
     * @param network network to allocate the VIF on, or {@code null} when {@code port} is given
     * @param port    a VIF allocated outside Berth, or {@code null}
     * @return the instance with the new VIF
     */
    Instance attachInterface(String ref, String network, Vif port);

    /**
     * Detaches a VIF from an instance, unplugging it live and releasing its address.
     *
     * @param ref   uuid or name
     * @param vifId the VIF's id
     * @return the instance without it
     */
    Instance detachInterface(String ref, String vifId);

    /** @return every instance that is not deleted, oldest first */
    List<Instance> list();

    /**
     * @param ref uuid or name
     * @return the instance
     * @throws NotFoundException when there is none
     */
    Instance show(String ref);

    /**
     * @param ref uuid or name
     * @return its resource use
     */
    Diagnostics diagnostics(String ref);

    /** @return the flavor catalogue, smallest first */
    List<Flavor> flavors();

    /** @return host resources of each present backend */
    List<HostResources> hypervisors();

    /** @return every backend known, present or not */
    List<BackendStatus> backends();
}
