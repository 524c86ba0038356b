package berth.runtime.internal.control;

import java.util.function.UnaryOperator;

/** The framework properties the shell and control channel read, with their defaults. */
public final class RuntimeProperties {

    public static final String STATE_DIR = "berth.state.dir";
    public static final String SCOPE = "berth.scope";
    /** Folder of the control sockets; only root may enter it. */
    public static final String CONTROL_DIR = "berth.control.dir";
    /** Full path of the control socket; overrides {@link #CONTROL_DIR} and the scope. */
    public static final String CONTROL_SOCKET = "berth.control.socket";

    private RuntimeProperties() {
    }

    public static String stateDir(UnaryOperator<String> props) {
        return or(props.apply(STATE_DIR), "/var/lib/berth");
    }

    public static String scope(UnaryOperator<String> props) {
        return or(props.apply(SCOPE), "default");
    }

    public static String controlSocket(UnaryOperator<String> props) {
        String socket = props.apply(CONTROL_SOCKET);
        if (socket != null && !socket.isBlank()) {
            return socket;
        }
        return or(props.apply(CONTROL_DIR), "/run/berth") + "/" + scope(props) + ".sock";
    }

    private static String or(String value, String fallback) {
        return value == null || value.isBlank() ? fallback : value;
    }
}
