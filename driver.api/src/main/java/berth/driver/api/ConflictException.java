package berth.driver.api;

/**
 * The operation does not fit the current state: the name is taken, the instance is busy with another task, or
 * it is in a state the operation cannot start from (for example pausing a stopped instance).
 */
public class ConflictException extends BerthException {
    private static final long serialVersionUID = 1L;

    public ConflictException(String message) {
        super(message);
    }
}
