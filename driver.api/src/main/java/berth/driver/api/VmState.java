package berth.driver.api;

/** Nova's vm_state: what Berth intends the instance to be, as opposed to the engine's {@link PowerState}. */
public enum VmState {
    BUILDING, ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR, DELETED;

    /** @return the lower-case name Nova prints */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
