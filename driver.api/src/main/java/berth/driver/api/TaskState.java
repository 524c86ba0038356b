package berth.driver.api;

/** Nova's task_state: the operation in progress on an instance, if any. */
public enum TaskState {
    SPAWNING, NETWORKING, DELETING, REBOOTING, REBOOTING_HARD, POWERING_OFF, POWERING_ON, PAUSING, UNPAUSING,
    SUSPENDING, RESUMING, IMAGE_SNAPSHOT, MIGRATING;

    /** @return the lower-case name Nova prints, for example {@code powering-off} */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
