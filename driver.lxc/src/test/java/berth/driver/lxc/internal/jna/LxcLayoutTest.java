package berth.driver.lxc.internal.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.lxc.internal.LxcTestSupport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compiles a C program against the real header and compares every offset the binding uses. */
class LxcLayoutTest {

    @TempDir
    Path tmp;

    @Test
    void offsetsMatchTheHeader() throws Exception {
        LxcTestSupport.require(Files.isRegularFile(Path.of("/usr/include/lxc/lxccontainer.h")),
                "/usr/include/lxc/lxccontainer.h (apt-get install lxc-dev)");
        LxcTestSupport.require(Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc (apt-get install gcc)");
        StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <lxc/lxccontainer.h>\n")
                .append("int main(void) {\n printf(\"SIZEOF %zu\\n\", sizeof(struct lxc_container));\n");
        for (String field : LxcLayout.FIELDS.keySet()) {
            c.append(" printf(\"").append(field).append(" %zu\\n\", offsetof(struct lxc_container, ")
                    .append(field).append("));\n");
        }
        c.append(" return 0;\n}\n");
        Path src = tmp.resolve("layout.c");
        Files.writeString(src, c);
        Path exe = tmp.resolve("layout");
        run("gcc", "-o", exe.toString(), src.toString());
        Map<String, Integer> actual = new HashMap<>();
        for (String line : run(exe.toString()).split("\n")) {
            String[] kv = line.trim().split(" ");
            actual.put(kv[0], Integer.parseInt(kv[1]));
        }
        assertEquals(LxcLayout.SIZEOF, actual.get("SIZEOF"), "sizeof(struct lxc_container)");
        LxcLayout.FIELDS.forEach((field, offset) -> assertEquals(actual.get(field), offset, "offsetof " + field));
    }

    @Test
    void callsReachTheRealLibrary() {
        Liblxc lxc = LxcTestSupport.requireLxc();
        assertTrue(lxc.version().startsWith("5."), lxc.version());
        try (Liblxc.Container c = lxc.open("berth-layout-probe", tmp.toString())) {
            assertEquals("berth-layout-probe", c.name());
            assertEquals(tmp.toString(), c.configPath());
            assertTrue(!c.isDefined());
            assertEquals("STOPPED", c.state());
            assertTrue(!c.isRunning());
            assertEquals(-1, c.initPid());
            assertTrue(c.setConfigItem("lxc.uts.name", "probe"));
            assertEquals("probe", c.getConfigItem("lxc.uts.name"));
            assertNotNull(c.name());
        }
    }

    private static String run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + String.join(" ", argv));
        assertEquals(0, p.exitValue(), String.join(" ", argv) + ": " + out);
        return out;
    }
}
