package berth.driver.api;

/**
 * The backend that owns an instance (or that was asked for) is not present right now, because its bundle is
 * stopped or its engine does not answer. Nothing was changed.
 */
public class BackendUnavailableException extends BerthException {
    private static final long serialVersionUID = 1L;
    private final String backend;

    public BackendUnavailableException(String backend) {
        super("backend " + backend + " is unavailable");
        this.backend = backend;
    }

    /** @return the name of the missing backend, for example {@code docker} */
    public String backend() {
        return backend;
    }
}
