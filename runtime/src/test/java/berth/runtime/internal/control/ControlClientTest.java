package berth.runtime.internal.control;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlClientTest {

    @Test
    void noRuntimeIsReportedAsSuch(@TempDir Path dir) {
        String[] r = ControlClient.capture(dir.resolve("none.sock"), "nova:list");
        assertEquals(Integer.toString(ControlClient.NO_RUNTIME), r[0]);
    }

    @Test
    void socketPathFollowsScopeAndOverrides() {
        assertEquals("/run/berth/default.sock", RuntimeProperties.controlSocket(k -> null));
        assertEquals("/x/t.sock", RuntimeProperties.controlSocket(
                k -> k.equals(RuntimeProperties.CONTROL_DIR) ? "/x" : k.equals(RuntimeProperties.SCOPE) ? "t" : null));
        assertEquals("/y.sock", RuntimeProperties.controlSocket(
                k -> k.equals(RuntimeProperties.CONTROL_SOCKET) ? "/y.sock" : null));
    }
}
