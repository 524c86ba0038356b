package berth.runtime.internal.shell;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.Flavor;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ShellUnitTest {

    @Test
    void tablesAreAlignedWhateverTheCells() {
        String t = new TableFormat("A", "Long header").row("x", 1).row("a much longer cell", null)
                .row("tab\there", "new\nline").render();
        String[] lines = t.split("\n");
        assertEquals(7, lines.length, t);
        for (String l : lines) {
            assertEquals(lines[0].length(), l.length(), t);
        }
        assertTrue(t.contains("| -"), "null cells print as -: " + t);
    }

    @Test
    void repeatedOptionsAfterGogoTookTheFirst() {
        Args a = Args.parse("nova:boot", new String[] {"--nic", "n2", "web1", "--meta", "b=2"},
                Set.of("--nic", "--meta"), Map.of("--nic", "n1", "--meta", "a=1"));
        assertEquals(List.of("n1", "n2"), a.all("--nic"));
        assertEquals(Map.of("a", "1", "b", "2"), Args.keyValues("x", a.all("--meta")));
        assertEquals("web1", a.one("nova:boot", "NAME"));
    }

    @Test
    void badArgumentsAreOneClearLine() {
        ShellError unknown = assertThrows(ShellError.class,
                () -> Args.parse("nova:list", new String[] {"--bogus"}, Set.of(), Map.of()));
        assertEquals("ERROR: nova:list: unknown option --bogus (see nova:list --help)", unknown.toString());
        ShellError missing = assertThrows(ShellError.class,
                () -> Args.parse("nova:show", new String[0], Set.of(), Map.of()).one("nova:show", "NAME"));
        assertTrue(missing.getMessage().startsWith("nova:show: expected NAME"), missing.getMessage());
        assertThrows(ShellError.class, () -> Args.keyValues("nova:boot", List.of("novalue")));
        assertThrows(ShellError.class,
                () -> Args.parse("nova:boot", new String[] {"--nic"}, Set.of("--nic"), Map.of()));
    }

    @Test
    void helpComesFromTheAnnotations() {
        String help = Usage.of(NovaCommands.class, "nova", "stop", "NAME|UUID");
        assertTrue(help.startsWith("nova:stop - power an instance off\nUsage: nova:stop [options] NAME|UUID"), help);
        assertTrue(help.contains("--timeout TIMEOUT") && help.contains("(default 10)"), help);
        assertTrue(Usage.of(GlanceCommands.class, "glance", "import", "FILE").startsWith("glance:import - "));
    }

    @Test
    void formatsKnownListsEvenWhenEmpty() {
        ShellFormats f = new ShellFormats();
        String empty = f.format(Listed.of(Flavor.class, List.of()), 0, null).toString();
        assertTrue(empty.contains("| Name |"), empty);
        String one = f.format(List.of(new Flavor("c1.nano", 64, 1, 256)), 0, null).toString();
        assertTrue(one.contains("| c1.nano |"), one);
        assertNull(f.format("plain", 0, null));
    }
}
