package berth.runtime.internal.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * The Docker Engine API spoken directly over its unix socket, HTTP/1.1 written by hand: one connection per
 * request ({@code Connection: close}), so a response ends where the stream ends. The JDK's HttpClient cannot
 * use a unix socket, and the benchmark's reference path should not go through docker-java, whose cost is part
 * of what Berth's Docker backend pays.
 */
final class DockerSocketClient {

    /** A response: status code and body. */
    record Response(int status, String body) {
        boolean ok() {
            return status >= 200 && status < 300;
        }
    }

    private final Path socket;
    private final Duration timeout;

    DockerSocketClient(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    /**
     * @param dockerHost {@code unix:///path} as {@code berth.docker.host} gives it
     * @return the socket path
     * @throws IllegalArgumentException when it is not a unix socket URI
     */
    static Path socketOf(String dockerHost) {
        URI u = URI.create(dockerHost);
        if (!"unix".equals(u.getScheme()) || u.getPath() == null || u.getPath().isEmpty()) {
            throw new IllegalArgumentException("the raw Docker path needs a unix:// docker host, got " + dockerHost);
        }
        return Path.of(u.getPath());
    }

    Response call(String method, String pathAndQuery, String jsonBody) throws IOException {
        byte[] body = jsonBody == null ? new byte[0] : jsonBody.getBytes(StandardCharsets.UTF_8);
        StringBuilder req = new StringBuilder();
        req.append(method).append(' ').append(pathAndQuery).append(" HTTP/1.1\r\n")
                .append("Host: docker\r\n")
                .append("Connection: close\r\n")
                .append("Accept: application/json\r\n");
        if (jsonBody != null) {
            req.append("Content-Type: application/json\r\n");
        }
        req.append("Content-Length: ").append(body.length).append("\r\n\r\n");
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                Selector selector = Selector.open()) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer out = ByteBuffer.allocate(req.length() + body.length);
            out.put(req.toString().getBytes(StandardCharsets.US_ASCII)).put(body).flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ch.configureBlocking(false);
            ch.register(selector, SelectionKey.OP_READ);
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(16384);
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException(method + " " + pathAndQuery + ": no complete answer within "
                            + timeout.toSeconds() + " s");
                }
                if (Thread.currentThread().isInterrupted()) {
                    throw new IOException(method + " " + pathAndQuery + ": interrupted");
                }
                selector.select(Math.max(1, Math.min(left / 1_000_000, 200)));
                selector.selectedKeys().clear();
                buf.clear();
                int n = ch.read(buf);
                if (n < 0) {
                    break;
                }
                all.write(buf.array(), 0, n);
            }
            return parse(all.toByteArray(), method + " " + pathAndQuery);
        }
    }

    static Response parse(byte[] raw, String what) throws IOException {
        int headerEnd = indexOf(raw, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
        if (headerEnd < 0) {
            throw new IOException(what + ": truncated HTTP response");
        }
        String head = new String(raw, 0, headerEnd, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n");
        String[] status = lines[0].split(" ", 3);
        if (status.length < 2 || !status[0].startsWith("HTTP/1.")) {
            throw new IOException(what + ": not an HTTP response: " + lines[0]);
        }
        int code = Integer.parseInt(status[1]);
        boolean chunked = false;
        for (int i = 1; i < lines.length; i++) {
            String l = lines[i].toLowerCase(Locale.ROOT);
            if (l.startsWith("transfer-encoding:") && l.contains("chunked")) {
                chunked = true;
            }
        }
        int start = headerEnd + 4;
        byte[] body;
        if (chunked) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int p = start;
            while (true) {
                int eol = indexOf(raw, new byte[] {'\r', '\n'}, p);
                if (eol < 0) {
                    throw new IOException(what + ": truncated chunked body");
                }
                String sizeLine = new String(raw, p, eol - p, StandardCharsets.US_ASCII).trim();
                int semi = sizeLine.indexOf(';');
                int size = Integer.parseInt(semi < 0 ? sizeLine : sizeLine.substring(0, semi), 16);
                p = eol + 2;
                if (size == 0) {
                    break;
                }
                if (p + size > raw.length) {
                    throw new IOException(what + ": truncated chunk");
                }
                b.write(raw, p, size);
                p += size + 2;
            }
            body = b.toByteArray();
        } else {
            body = java.util.Arrays.copyOfRange(raw, start, raw.length);
        }
        return new Response(code, new String(body, StandardCharsets.UTF_8));
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
