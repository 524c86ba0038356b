package berth.driver.api.spi;

import berth.driver.api.Network;
import berth.driver.api.Vif;
import java.util.Collection;
import java.util.List;

/**
 * Networking for instances: durable address allocation on named networks and plugging VIFs into a container's
 * network namespace. Drivers never call it; the compute manager composes it with them.
 */
@org.osgi.annotation.versioning.ConsumerType
public interface NetworkProvider {

    /** @return the configured networks */
    List<Network> networks();

    /**
     * Allocates a VIF (MAC and address) on a network, durably, before this method returns.
     *
     * @param network    network name
     * @param instanceId instance uuid it belongs to
     * @param device     device name inside the instance, for example {@code eth0}
     * @return the VIF
     * @throws berth.driver.api.NotFoundException when the network does not exist
     * @throws berth.driver.api.ConflictException when the network has no free address
     */
    Vif allocate(String network, String instanceId, String device);

    /**
     * Records a VIF allocated outside Berth (as a Neutron port) so that its address is not handed out again.
     *
     * @param vif        the VIF
     * @param instanceId instance uuid
     * @return the VIF as recorded
     */
    Vif adopt(Vif vif, String instanceId);

    /**
     * Frees a VIF's address and forgets it. Releasing an unknown VIF is not an error.
     *
     * @param vif the VIF
     */
    void release(Vif vif);

    /**
     * Creates the veth pair, puts the host end on the bridge and configures the other end inside the namespace of
     * {@code initPid}. Plugging a VIF that is already plugged replaces the old host end.
     *
     * @param vif     the VIF
     * @param initPid host pid of the container's init
     * @throws berth.driver.api.EngineException when it fails; nothing is left behind
     */
    void plug(Vif vif, long initPid);

    /**
     * Removes the VIF's host end (and with it the pair). Unplugging a VIF that is not plugged is not an error.
     *
     * @param vif the VIF
     */
    void unplug(Vif vif);

    /**
     * Frees the VIFs (host end and address) of every instance not in {@code liveInstanceIds}: what a crash or a
     * delete that could not reach the provider left allocated.
     *
     * @param liveInstanceIds uuids of every instance that still exists
     * @return the VIFs released
     * @since 1.1
     */
    default List<Vif> releaseOrphans(Collection<String> liveInstanceIds) {
        return List.of();
    }

    /**
     * @return host ends of this provider's scope that belong to no recorded VIF (reported at start-up)
     * @since 1.1
     */
    default List<String> strays() {
        return List.of();
    }

    /**
     * Deletes the {@link #strays()}.
     *
     * @return the names deleted
     * @since 1.1
     */
    default List<String> removeStrays() {
        return List.of();
    }
}
