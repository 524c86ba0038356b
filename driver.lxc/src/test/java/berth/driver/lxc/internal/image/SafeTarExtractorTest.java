package berth.driver.lxc.internal.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.spi.LocalImage;
import berth.driver.lxc.internal.TestTars;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile archives made here: each must be refused and nothing may appear outside the target. */
class SafeTarExtractorTest {
    @TempDir
    Path tmp;
    Path root;
    Path outside;

    @BeforeEach
    void dirs() throws IOException {
        root = Files.createDirectories(tmp.resolve("root"));
        outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("passwd"), "original");
    }

    private void extract(byte[] tar) throws IOException {
        new SafeTarExtractor(root, false, 0, 0).extract(new ByteArrayInputStream(tar), false);
    }

    private void assertOutsideUntouched() throws IOException {
        assertEquals("original", Files.readString(outside.resolve("passwd")));
        try (Stream<Path> s = Files.list(outside)) {
            assertEquals(1, s.count(), "nothing new outside the target");
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(2, s.count(), "nothing new beside the target");
        }
    }

    private void refused(byte[] tar, String messagePart) throws IOException {
        IOException e = assertThrows(IOException.class, () -> extract(tar));
        assertTrue(e.getMessage().contains(messagePart), e.getMessage());
        assertOutsideUntouched();
    }

    @Test
    void traversalIsRefused() throws IOException {
        refused(new TestTars().file("ok", "x").file("../outside/passwd", "pwned").bytes(), "'..'");
        refused(new TestTars().file("a/../../outside/evil", "pwned").bytes(), "'..'");
    }

    @Test
    void absolutePathsAreRefused() throws IOException {
        refused(new TestTars().file(outside.resolve("passwd").toString(), "pwned").bytes(), "absolute");
    }

    @Test
    void writingThroughAPlantedSymlinkIsRefused() throws IOException {
        refused(new TestTars().symlink("a", outside.toString()).file("a/passwd", "pwned").bytes(), "symlink");
        refused(new TestTars().symlink("b", "../outside").file("b/new", "pwned").bytes(), "symlink");
    }

    @Test
    void replacingADirectoryByASymlinkThenWritingThroughItIsRefused() throws IOException {
        refused(new TestTars().dir("d", 0755).file("d/x", "1").symlink("d", outside.toString())
                .file("d/passwd", "pwned").bytes(), "symlink");
    }

    @Test
    void aFileReplacedByASymlinkIsReplacedNotFollowed() throws IOException {
        extract(new TestTars().symlink("f", outside.resolve("passwd").toString()).file("f", "inside").bytes());
        assertEquals("inside", Files.readString(root.resolve("f")));
        assertFalse(Files.isSymbolicLink(root.resolve("f")));
        assertOutsideUntouched();
    }

    @Test
    void symlinksAreKeptAsLinks() throws IOException {
        extract(new TestTars().symlink("etc-link", "/etc").symlink("rel", "../x").bytes());
        assertEquals("/etc", Files.readSymbolicLink(root.resolve("etc-link")).toString());
        assertEquals("../x", Files.readSymbolicLink(root.resolve("rel")).toString());
    }

    @Test
    void hardlinksOutsideAreRefused() throws IOException {
        refused(new TestTars().hardlink("h", "../outside/passwd").bytes(), "'..'");
        refused(new TestTars().hardlink("h", outside.resolve("passwd").toString()).bytes(), "absolute");
        refused(new TestTars().symlink("s", outside.resolve("passwd").toString()).hardlink("h", "s").bytes(),
                "not a file");
        refused(new TestTars().symlink("d", outside.toString()).hardlink("h", "d/passwd").bytes(), "symlink");
    }

    @Test
    void hardlinksInsideWork() throws IOException {
        extract(new TestTars().file("a", "data").hardlink("b", "a").bytes());
        assertEquals(Files.getAttribute(root.resolve("a"), "unix:ino"), Files.getAttribute(root.resolve("b"), "unix:ino"));
    }

    @Test
    void deviceNodesAreRefused() throws IOException {
        refused(new TestTars().device("dev/null", TarArchiveEntry.LF_CHR).bytes(), "device");
        refused(new TestTars().device("dev/sda", TarArchiveEntry.LF_BLK).bytes(), "device");
        refused(new TestTars().device("fifo", TarArchiveEntry.LF_FIFO).bytes(), "FIFO");
    }

    @Test
    void setuidIsRefusedUnlessAllowed() throws IOException {
        byte[] tar = new TestTars().file("su", 04755, "x".getBytes(StandardCharsets.UTF_8)).bytes();
        refused(tar, "setuid");
        byte[] sgid = new TestTars().file("sg", 02755, "x".getBytes(StandardCharsets.UTF_8)).bytes();
        refused(sgid, "setuid");
        Path allowed = Files.createDirectories(tmp.resolve("allowed"));
        new SafeTarExtractor(allowed, true, 0, 0).extract(new ByteArrayInputStream(tar), false);
        assertEquals(04755, (int) Files.getAttribute(allowed.resolve("su"), "unix:mode") & 07777);
    }

    @Test
    void modesAndStickyBitsAreKept() throws IOException {
        extract(new TestTars().dir("tmp", 01777).file("x", 0600, new byte[0]).bytes());
        assertEquals(01777, (int) Files.getAttribute(root.resolve("tmp"), "unix:mode") & 07777);
        assertEquals(0600, (int) Files.getAttribute(root.resolve("x"), "unix:mode") & 07777);
    }

    @Test
    void truncatedBodiesFail() throws IOException {
        byte[] full = new TestTars().file("big", 0644, new byte[100_000]).bytes();
        byte[] cut = Arrays.copyOf(full, 512 + 50_000);
        assertThrows(IOException.class, () -> extract(cut));
        assertOutsideUntouched();
    }

    @Test
    void aFailedUnpackLeavesNoBase() throws Exception {
        Path images = tmp.resolve("images");
        ImageBases bases = new ImageBases(images, false, 0, 0, new ObjectMapper());
        Path bad = tmp.resolve("bad.tar");
        Files.write(bad, new TestTars().file("ok", "x").symlink("a", outside.toString()).file("a/passwd", "pwned")
                .bytes());
        EngineException e = assertThrows(EngineException.class, () -> bases.ensure(image(bad, ContainerFormat.BARE)));
        assertTrue(e.getMessage().contains("symlink"), e.getMessage());
        try (Stream<Path> s = Files.list(images)) {
            assertEquals(List.of(), s.toList(), "no partial base left");
        }
        assertEquals("original", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void dockerLayersFlattenWithWhiteoutsAndOpaqueFolders() throws Exception {
        byte[] l0 = new TestTars().dir("etc", 0755).file("etc/a", "a0").file("etc/b", "b0").dir("d", 0755)
                .file("d/x", "x").dir("d/sub", 0755).file("d/sub/y", "y").file("keep", "k").bytes();
        byte[] l1 = new TestTars().file("etc/.wh.a", "").dir("d", 0755).file("d/.wh..wh..opq", "")
                .file("d/z", "z1").file("etc/b", "b1").bytes();
        byte[] l2 = new TestTars().file("d/.wh.z", "").file("d/w", "w2").bytes();
        Path archive = TestTars.dockerSave(tmp.resolve("img.tar"), "[\"/bin/sh\",\"-c\",\"sleep 1\"]",
                "[\"PATH=/bin\",\"A=1\"]", l0, l1, l2);
        ImageBases bases = new ImageBases(tmp.resolve("images"), false, 0, 0, new ObjectMapper());
        ImageBases.Base b = bases.ensure(image(archive, ContainerFormat.DOCKER));
        Path r = b.rootfs();
        assertFalse(Files.exists(r.resolve("etc/a"), LinkOption.NOFOLLOW_LINKS), "whiteout deleted etc/a");
        assertEquals("b1", Files.readString(r.resolve("etc/b")));
        assertFalse(Files.exists(r.resolve("d/x")), "opaque folder dropped lower content");
        assertFalse(Files.exists(r.resolve("d/sub")), "opaque folder dropped lower subfolders");
        assertFalse(Files.exists(r.resolve("d/z")), "a later whiteout deleted d/z");
        assertEquals("w2", Files.readString(r.resolve("d/w")));
        assertEquals("k", Files.readString(r.resolve("keep")));
        assertFalse(Files.exists(r.resolve("etc/.wh.a")) || Files.exists(r.resolve("d/.wh..wh..opq")));
        assertEquals(List.of("/bin/sh", "-c", "sleep 1"), b.meta().cmd());
        assertEquals(List.of("PATH=/bin", "A=1"), b.meta().env());
        // Second call reuses the base.
        assertEquals(b.dir(), bases.ensure(image(archive, ContainerFormat.DOCKER)).dir());
    }

    @Test
    void aHostileLayerFailsTheWholeImage() throws Exception {
        byte[] l0 = new TestTars().symlink("a", outside.toString()).bytes();
        byte[] l1 = new TestTars().file("a/passwd", "pwned").bytes();
        Path archive = TestTars.dockerSave(tmp.resolve("img.tar"), "null", "[]", l0, l1);
        ImageBases bases = new ImageBases(tmp.resolve("images"), false, 0, 0, new ObjectMapper());
        assertThrows(EngineException.class, () -> bases.ensure(image(archive, ContainerFormat.DOCKER)));
        assertOutsideUntouched2();
    }

    private void assertOutsideUntouched2() throws IOException {
        assertEquals("original", Files.readString(outside.resolve("passwd")));
        try (Stream<Path> s = Files.list(tmp.resolve("images"))) {
            assertEquals(List.of(), s.toList());
        }
    }

    static LocalImage image(Path file, ContainerFormat format) throws Exception {
        return TestTars.localImage(file, format);
    }
}
