package berth.driver.api;

/** Nova's reboot types: SOFT asks the workload to stop within a timeout, HARD kills it. */
public enum RebootType {
    SOFT, HARD
}
