package berth.runtime.internal.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The small parts of the benchmark that need no engine: HTTP parsing, procfs/cgroup reading, option checks. */
class BenchPartsTest {

    @TempDir
    Path dir;

    @Test
    void parsesChunkedAndPlainResponses() throws IOException {
        String chunked = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "7\r\n{\"Id\":\"\r\n5;ext=1\r\nabc\"}\r\n0\r\n\r\n";
        DockerSocketClient.Response r = DockerSocketClient.parse(chunked.getBytes(StandardCharsets.US_ASCII), "t");
        assertEquals(201, r.status());
        assertEquals("{\"Id\":\"abc\"}", r.body());
        String plain = "HTTP/1.1 204 No Content\r\nServer: Docker\r\n\r\n";
        assertEquals(204, DockerSocketClient.parse(plain.getBytes(StandardCharsets.US_ASCII), "t").status());
        assertThrows(IOException.class,
                () -> DockerSocketClient.parse("HTTP/1.1 200 OK\r\n".getBytes(StandardCharsets.US_ASCII), "t"));
        assertThrows(IOException.class,
                () -> DockerSocketClient.parse("SSH-2.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII), "t"));
    }

    @Test
    void dockerHostMustBeAUnixSocket() {
        assertEquals(Path.of("/var/run/docker.sock"), DockerSocketClient.socketOf("unix:///var/run/docker.sock"));
        assertThrows(IllegalArgumentException.class, () -> DockerSocketClient.socketOf("tcp://127.0.0.1:2375"));
    }

    @Test
    void readsCgroupV1AndV2MemoryAndProcFigures() throws IOException {
        Path proc = dir.resolve("proc");
        Path cg = dir.resolve("cgroup");
        write(proc.resolve("11/cgroup"), "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n");
        write(cg.resolve("memory/docker/abc/memory.usage_in_bytes"), "1048576\n");
        write(proc.resolve("12/cgroup"), "0::/lxc.payload.x\n");
        write(cg.resolve("lxc.payload.x/memory.current"), "4096\n");
        write(proc.resolve("meminfo"), "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n");
        write(proc.resolve("self/status"), "Name:\tjava\nVmRSS:\t  2048 kB\n");
        write(proc.resolve("11/status"), "Name:\tdocker-init\nPPid:\t10\nVmRSS:\t  8 kB\n");
        write(proc.resolve("10/status"), "Name:\tcontainerd-shim\nPPid:\t1\nVmRSS:\t  7000 kB\n");
        MemoryProbe p = new MemoryProbe(proc, cg);
        assertEquals(1048576, p.cgroupBytes(11));
        assertEquals(4096, p.cgroupBytes(12));
        assertEquals(-1, p.cgroupBytes(13), "no such process");
        assertEquals(-1, p.cgroupBytes(0));
        assertEquals(1000 * 1024, p.memAvailable());
        assertEquals(2048 * 1024, p.jvmRss());
        assertEquals(10, p.parent(11));
        assertEquals(7000 * 1024, p.rss(10));
        assertEquals(-1, p.rss(99));
        assertEquals(7000 * 1024, p.pss(10), "no smaps_rollup: the resident set");
        write(proc.resolve("10/smaps_rollup"), "00400000-7ffd [rollup]\nRss:  7000 kB\nPss:  1500 kB\n");
        assertEquals(1500 * 1024, p.pss(10));
    }

    @Test
    void optionsAreBounded() {
        assertThrows(IllegalArgumentException.class, () -> options(0, 1));
        assertThrows(IllegalArgumentException.class, () -> options(1, 0));
        assertThrows(IllegalArgumentException.class, () -> options(1, 65));
        assertEquals(20, options(20, 1).count());
    }

    private BenchOptions options(int count, int parallel) {
        return new BenchOptions(List.of(), count, parallel, "busybox", "c1.nano", List.of(), dir, Duration.ZERO,
                true, Duration.ofSeconds(10));
    }

    private static void write(Path p, String text) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }
}
