package berth.driver.api.spi;

import berth.driver.api.ContainerFormat;
import berth.driver.api.Diagnostics;
import berth.driver.api.ExecResult;
import berth.driver.api.HostResources;
import berth.driver.api.RebootType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A container backend, as Nova's virt driver: one service per engine, registered with {@link #BACKEND} and a
 * service ranking, present only while its engine answers. Instances are addressed by Berth uuid; the driver
 * labels its containers with it and lists only containers so labelled.
 *
 * <p>Power states: a running container is RUNNING, a frozen one PAUSED, one suspended SUSPENDED; a container
 * that is created but not started, was stopped by {@link #powerOff} (whatever its exit code), or exited 0 is
 * SHUTDOWN; one that exited non-zero on its own, was OOM-killed or is dead is CRASHED.
 *
 * <p>Every method throws {@link berth.driver.api.NotFoundException} for an unknown uuid,
 * {@link berth.driver.api.ConflictException} when the container's state does not allow the operation and
 * {@link berth.driver.api.EngineException} when the engine fails. A method that fails leaves nothing behind that
 * it created.
 */
@org.osgi.annotation.versioning.ConsumerType
public interface ComputeDriver {

    /** Service property naming the backend: {@code docker}, {@code lxc} ... */
    String BACKEND = "berth.backend";

    /** @return the backend name, equal to the {@link #BACKEND} property */
    String name();

    /** @return the engine's version, for example {@code 20.10.24} */
    String engineVersion();

    /** @return the image formats this backend boots without conversion */
    Set<ContainerFormat> nativeFormats();

    /**
     * Makes the image local to the engine (load, import or unpack, once per image checksum), creates the
     * container without network and starts it.
     *
     * @param spec what to spawn
     * @return the running container
     * @throws berth.driver.api.ConflictException if a container for this uuid exists
     */
    DriverInstance spawn(SpawnSpec spec);

    /**
     * Removes the container and whatever the driver keeps for it. Destroying a uuid the engine does not know is
     * not an error: the caller may be cleaning up after a half-done spawn.
     *
     * @param uuid instance uuid
     */
    void destroy(String uuid);

    /**
     * @param uuid    instance uuid
     * @param type    soft: stop within {@code timeout} then start; hard: kill then start
     * @param timeout how long a soft stop waits
     * @return the container, running again (with a new init pid)
     */
    DriverInstance reboot(String uuid, RebootType type, Duration timeout);

    /**
     * Stops the container: SIGTERM to the workload, SIGKILL after {@code timeout}. Afterwards the container is
     * SHUTDOWN whatever the exit code.
     *
     * @param uuid    instance uuid
     * @param timeout grace period
     * @return the stopped container
     */
    DriverInstance powerOff(String uuid, Duration timeout);

    /** @param uuid instance uuid @return the running container (with a new init pid) */
    DriverInstance powerOn(String uuid);

    /** @param uuid instance uuid @return the frozen container */
    DriverInstance pause(String uuid);

    /** @param uuid instance uuid @return the running container */
    DriverInstance unpause(String uuid);

    /**
     * Suspends: saves the container's state and frees its CPU (a checkpoint where the engine can, otherwise the
     * cgroup freezer; {@link #hostResources()} says which mode is in force under {@code suspend.mode}).
     *
     * @param uuid instance uuid
     * @return the suspended container
     */
    DriverInstance suspend(String uuid);

    /** @param uuid instance uuid @return the running container */
    DriverInstance resume(String uuid);

    /**
     * Starts capturing the container's filesystem. The container may be running or stopped.
     *
     * @param uuid instance uuid
     * @return the stream to read; the caller closes it
     */
    SnapshotStream snapshot(String uuid);

    /**
     * @param uuid instance uuid
     * @return the container as the engine sees it now
     */
    DriverInstance info(String uuid);

    /** @return every container of Berth's that this engine holds */
    List<DriverInstance> list();

    /**
     * @param uuid  instance uuid
     * @param lines how many of the last lines
     * @return console output
     */
    String consoleOutput(String uuid, int lines);

    /**
     * Runs a command in the running container.
     *
     * @param uuid    instance uuid
     * @param argv    the command
     * @param env     extra environment
     * @param timeout how long it may run before it is killed
     * @return exit code and output
     */
    ExecResult exec(String uuid, List<String> argv, Map<String, String> env, Duration timeout);

    /** @param uuid instance uuid @return its resource use */
    Diagnostics diagnostics(String uuid);

    /** @return the host's resources and Berth's use of them */
    HostResources hostResources();

    /**
     * @param uuid instance uuid
     * @return the network namespace of its init process, empty when not running
     */
    default Optional<Path> netnsPath(String uuid) {
        long pid = info(uuid).initPid();
        return pid > 0 ? Optional.of(Path.of("/proc", Long.toString(pid), "ns", "net")) : Optional.empty();
    }

    /**
     * The command line the container runs, as resolved at spawn (the spawn's command, else the image's
     * {@code os_command_line}, else the image's own entrypoint and command). The compute manager records it on
     * snapshots and migrations, whose images (a rootfs tar in particular) cannot carry it otherwise.
     *
     * @param uuid instance uuid
     * @return the argument vector, empty when the driver does not know it
     * @since 1.1
     */
    default List<String> command(String uuid) {
        return List.of();
    }

    /**
     * Forgets the engine copy of an image no instance uses any more (a Docker tag, an LXC base).
     *
     * @param imageId Berth image id
     */
    default void releaseImage(String imageId) {
    }
}
