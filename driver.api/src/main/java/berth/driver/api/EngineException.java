package berth.driver.api;

/** The container engine, image service or kernel refused or failed an operation. */
public class EngineException extends BerthException {
    private static final long serialVersionUID = 1L;

    public EngineException(String message) {
        super(message);
    }

    public EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
