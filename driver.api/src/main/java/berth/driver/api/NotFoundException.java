package berth.driver.api;

/** An instance, image, network, flavor or backend that was named does not exist. */
public class NotFoundException extends BerthException {
    private static final long serialVersionUID = 1L;

    public NotFoundException(String message) {
        super(message);
    }
}
