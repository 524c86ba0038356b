package berth.driver.api;

/** Power state of an instance as the engine reports it, with Nova's integer codes. */
public enum PowerState {
    NOSTATE(0), RUNNING(1), PAUSED(3), SHUTDOWN(4), CRASHED(6), SUSPENDED(7);

    private final int code;

    PowerState(int code) {
        this.code = code;
    }

    /** @return Nova's integer code for this state */
    public int code() {
        return code;
    }

    /**
     * @param code a Nova power-state code
     * @return the matching state
     * @throws InvalidInputException if no state has that code
     */
    public static PowerState ofCode(int code) {
        for (PowerState s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        throw new InvalidInputException("unknown power state code " + code);
    }
}
