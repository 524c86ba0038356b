package berth.runtime.internal.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BootRequest;
import berth.driver.api.ConflictException;
import berth.driver.api.Flavor;
import berth.driver.api.InvalidInputException;
import berth.driver.api.NotFoundException;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class ValidationTest extends Fixture {

    static Stream<String> hostileNames() {
        return Stream.of("", " ", "-web", "web-", "-", "a b", " web", "web ", "a;rm -rf /", "$(reboot)", "`id`",
                "a|b", "a&b", "a>b", "a\"b", "a'b", "a\\b", "a/b", "../etc", "a.b", "a_b", "a*", "a?", "a\nb",
                "a\rb", "a\tb", "a\u0000b", "ünïcode", "名前", "web\u200b", "\u0430dmin", "x".repeat(64),
                "x".repeat(10 * 1024), "a".repeat(10 * 1024) + ";reboot", "123e4567-e89b-12d3-a456-426614174000",
                "%00", "web1\u0000");
    }

    @ParameterizedTest
    @MethodSource("hostileNames")
    void hostileNamesAreRefusedWithOneClearLine(String name) {
        start();
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> boot(name));
        String m = e.getMessage();
        assertFalse(m.contains("\n") || m.contains("\r") || m.contains("\u0000"), m);
        assertTrue(m.length() < 200, "message stays short: " + m.length());
        assertTrue(m.startsWith("instance name") || m.startsWith("invalid instance name"), m);
        assertEquals(List.of(), manager.list(), "nothing recorded");
        assertTrue(docker.calls.isEmpty(), "the engine was not touched");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "web1", "WEB-1", "1", "0-0", "a-b-c"})
    void goodNames(String name) {
        start();
        assertEquals(name, boot(name).name());
    }

    @Test
    void sixtyThreeCharactersIsTheLimit() {
        start();
        String n = "a" + "b".repeat(61) + "c";
        assertEquals(63, boot(n).name().length());
    }

    @Test
    void namesAreUniqueCaseInsensitively() {
        start();
        boot("web1");
        ConflictException e = assertThrows(ConflictException.class, () -> boot("Web1"));
        assertEquals("instance name 'Web1' is in use", e.getMessage());
        assertEquals(1, manager.list().size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "c1.tiny", "C1.SMALL", "c1.small;reboot", "c1.small ", "$(id)", "ü"})
    void unknownFlavorsAreRefused(String flavor) {
        start();
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> manager.boot(
                new BootRequest("web1", "busybox", flavor, null, null, null, null, null), null));
        assertTrue(e.getMessage().startsWith("unknown flavor"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertEquals(List.of(), manager.list());
    }

    @Test
    void hugeFlavorNameIsCutInTheMessage() {
        start();
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> manager.boot(
                new BootRequest("web1", "busybox", "f".repeat(10_000), null, null, null, null, null), null));
        assertTrue(e.getMessage().length() < 300, e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a b", "1X", "X=Y", "", "A;B", "ü"})
    void metadataKeysMustBeEnvironmentNames(String key) {
        start();
        assertThrows(InvalidInputException.class, () -> manager.boot(new BootRequest("web1", "busybox", "c1.small",
                null, null, null, Map.of(key, "v"), null), null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a b", "net;x", "../x", "", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})
    void badNetworkNamesAreRefused(String network) {
        start();
        assertThrows(InvalidInputException.class, () -> manager.boot(new BootRequest("web1", "busybox", "c1.small",
                null, List.of(network), null, null, null), null));
        assertTrue(net.allocated.isEmpty());
    }

    @Test
    void imageReferencesAreChecked() {
        start();
        assertThrows(InvalidInputException.class, () -> manager.boot(new BootRequest("web1", " ", "c1.small", null,
                null, null, null, null), null));
        assertThrows(InvalidInputException.class, () -> manager.boot(new BootRequest("web1", "a\nb", "c1.small",
                null, null, null, null, null), null));
        assertThrows(NotFoundException.class, () -> manager.boot(new BootRequest("web1", "x".repeat(255),
                "c1.small", null, null, null, null, null), null));
    }

    @Test
    void unknownAndMalformedBackends() {
        start();
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> manager.boot(request("web1", "lcx", List.of(), List.of()), null));
        assertEquals("unknown backend 'lcx' (known: docker, lxc)", e.getMessage());
        assertThrows(InvalidInputException.class,
                () -> manager.boot(request("web1", "docker;rm", List.of(), List.of()), null));
    }

    @Test
    void referencesToInstancesAreChecked() {
        start();
        assertThrows(InvalidInputException.class, () -> manager.show(""));
        assertThrows(NotFoundException.class, () -> manager.show("nosuch"));
        NotFoundException e = assertThrows(NotFoundException.class, () -> manager.pause("x".repeat(10_000)));
        assertTrue(e.getMessage().length() < 100);
        var i = boot("web1");
        assertEquals(i.uuid(), manager.show(i.uuid()).uuid());
        assertEquals(i.uuid(), manager.show(i.uuid().toUpperCase()).uuid());
        assertEquals(i.uuid(), manager.show("WEB1").uuid());
    }

    @Test
    void shippedFlavorsSmallestFirst() {
        start();
        assertEquals(List.of("c1.nano", "c1.micro", "c1.small", "c1.medium", "c1.large", "c1.xlarge"),
                manager.flavors().stream().map(Flavor::name).toList());
        Flavor xl = manager.flavors().get(5);
        assertEquals(2048, xl.memoryMb());
        assertEquals(4, xl.vcpus());
        assertTrue(manager.flavors().stream().allMatch(f -> f.pidsLimit() >= 256 && f.pidsLimit() <= 4096));
    }

    @Test
    void extraFlavorsFromConfiguration() {
        Flavors f = Flavors.of(new String[] {"m1.tiny:32:1", "c1.small:300:2:100", " ", "big:4096:8:8192"});
        assertEquals(new Flavor("m1.tiny", 32, 1, 256), f.get("m1.tiny"));
        assertEquals(new Flavor("c1.small", 300, 2, 100), f.get("c1.small"));
        assertEquals(8, f.list().size());
        assertEquals("m1.tiny", f.list().get(0).name());
        for (String bad : new String[] {"x", "x:1", "x:64:1:2:3", "x:a:1", "x:64:0", "x:2:1", "x;y:64:1",
                "x:64:1:8"}) {
            assertThrows(IllegalArgumentException.class, () -> Flavors.of(new String[] {bad}), bad);
        }
    }

    @Test
    void commandLinesSplitLikeAShellWithoutExpanding() {
        assertEquals(List.of("httpd", "-f", "-p", "8080"), CommandLine.split("httpd -f -p '8080'"));
        assertEquals(List.of("sh", "-c", "echo a b; echo $HOME"), CommandLine.split("sh -c 'echo a b; echo $HOME'"));
        assertEquals(List.of("a b", "c\"d", "e\\f", "$x"), CommandLine.split("\"a b\" \"c\\\"d\" e\\\\f '$x'"));
        assertEquals(List.of("ab"), CommandLine.split("a'b'"));
        assertEquals(List.of(""), CommandLine.split("''"));
        assertEquals(List.of(), CommandLine.split("   "));
        assertEquals(List.of(), CommandLine.split(null));
        assertThrows(InvalidInputException.class, () -> CommandLine.split("'open"));
        assertThrows(InvalidInputException.class, () -> CommandLine.split("\"open"));
        assertThrows(InvalidInputException.class, () -> CommandLine.split("x\\"));
        List<String> words = List.of("sh", "-c", "echo 'a b' \"c\"", "", "$(x)", "it's");
        assertEquals(words, CommandLine.split(CommandLine.join(words)));
    }

    @Test
    void badImageCommandLineFailsTheBootBeforeAnyRecord() {
        images.add("img-bad", "bad", berth.driver.api.ContainerFormat.DOCKER, Map.of("os_command_line", "sh -c 'x"));
        start();
        assertThrows(InvalidInputException.class, () -> manager.boot(new BootRequest("web1", "bad", "c1.small",
                null, null, null, null, null), null));
        assertEquals(List.of(), manager.list());
    }
}
