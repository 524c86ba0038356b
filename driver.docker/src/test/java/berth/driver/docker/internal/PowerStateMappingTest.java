package berth.driver.docker.internal;

import static berth.driver.docker.internal.DockerComputeDriver.powerState;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.driver.api.InvalidInputException;
import berth.driver.api.PowerState;
import java.util.List;
import org.junit.jupiter.api.Test;

class PowerStateMappingTest {

    @Test
    void mapsAsTheDriverContractSays() {
        assertEquals(PowerState.RUNNING, powerState("running", -1, false, false, false));
        assertEquals(PowerState.PAUSED, powerState("paused", -1, false, false, false));
        assertEquals(PowerState.SUSPENDED, powerState("paused", -1, false, false, true));
        assertEquals(PowerState.SHUTDOWN, powerState("created", 0, false, false, false));
        assertEquals(PowerState.SHUTDOWN, powerState("exited", 143, false, true, false), "requested stop");
        assertEquals(PowerState.SHUTDOWN, powerState("exited", 137, false, true, false), "requested stop, killed");
        assertEquals(PowerState.SHUTDOWN, powerState("exited", 0, false, false, false));
        assertEquals(PowerState.CRASHED, powerState("exited", 3, false, false, false));
        assertEquals(PowerState.CRASHED, powerState("exited", 143, false, false, false), "a stop Berth did not ask");
        assertEquals(PowerState.CRASHED, powerState("exited", 0, true, false, false), "OOM-killed");
        assertEquals(PowerState.CRASHED, powerState("dead", 0, false, false, false));
        assertEquals(PowerState.NOSTATE, powerState("removing", 0, false, false, false));
    }

    @Test
    void commandLinesSplitLikeAShell() {
        assertEquals(List.of("httpd", "-f", "-p", "80"), CommandLines.split("  httpd -f  -p 80 "));
        assertEquals(List.of("sh", "-c", "echo \"a b\"; exit 3"), CommandLines.split("sh -c 'echo \"a b\"; exit 3'"));
        assertEquals(List.of("a b", "c\"d", "e f"), CommandLines.split("\"a b\" \"c\\\"d\" e\\ f"));
        assertEquals(List.of(""), CommandLines.split("''"));
        assertThrows(InvalidInputException.class, () -> CommandLines.split("sh -c 'oops"));
    }
}
