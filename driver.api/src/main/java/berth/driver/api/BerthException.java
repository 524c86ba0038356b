package berth.driver.api;

/**
 * Root of every error Berth reports. Unchecked: callers that cannot act on a failure let it travel to the
 * front end, which prints {@link #getMessage()} as one line.
 */
public class BerthException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BerthException(String message) {
        super(message);
    }

    public BerthException(String message, Throwable cause) {
        super(message, cause);
    }
}
