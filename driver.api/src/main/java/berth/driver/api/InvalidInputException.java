package berth.driver.api;

/** Input was refused before anything changed: a bad name, an unknown option value, a malformed address. */
public class InvalidInputException extends BerthException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }
}
