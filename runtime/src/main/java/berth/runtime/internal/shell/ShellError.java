package berth.runtime.internal.shell;

/**
 * A command failed for a reason the user can act on. Gogo's interactive shell prints an exception's
 * {@code toString()}, so this prints one line without a class name.
 */
public final class ShellError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ShellError(String message, Throwable cause) {
        super(message, cause);
    }

    public ShellError(String message) {
        super(message);
    }

    @Override
    public String toString() {
        return "ERROR: " + getMessage();
    }
}
