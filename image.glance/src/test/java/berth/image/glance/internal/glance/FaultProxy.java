package berth.image.glance.internal.glance;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiFunction;

/**
 * A fault injector in front of a real Glance, on loopback: it forwards each request (with {@code Connection:
 * close}, so one exchange per connection) and passes the answer back, except that a chosen fault can answer 500
 * itself, hold the answer back, stall or cut the body, flip a byte, or throttle it. Not a fake Glance: every
 * byte that is not deliberately damaged comes from the real one.
 */
final class FaultProxy implements AutoCloseable {

    /** What to do with one exchange. */
    record Fault(Kind kind, long afterBytes, long delayMillis, Runnable atOffset) {
        enum Kind { NONE, ANSWER_500, DELAY_HEADERS, STALL_BODY, CUT_BODY, FLIP_BYTE, THROTTLE }

        static final Fault NONE = new Fault(Kind.NONE, 0, 0, null);

        static Fault answer500() {
            return new Fault(Kind.ANSWER_500, 0, 0, null);
        }

        static Fault delayHeaders(long millis) {
            return new Fault(Kind.DELAY_HEADERS, 0, millis, null);
        }

        static Fault stallAfter(long bytes, long millis) {
            return new Fault(Kind.STALL_BODY, bytes, millis, null);
        }

        static Fault cutAfter(long bytes) {
            return new Fault(Kind.CUT_BODY, bytes, 0, null);
        }

        static Fault flipByteAt(long offset) {
            return new Fault(Kind.FLIP_BYTE, offset, 0, null);
        }

        /** Sends 64 KB every {@code pauseMillis}; runs {@code atOffset} once {@code afterBytes} went through. */
        static Fault throttle(long pauseMillis, long afterBytes, Runnable atOffset) {
            return new Fault(Kind.THROTTLE, afterBytes, pauseMillis, atOffset);
        }
    }

    private final ServerSocket server;
    private final URI upstream;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fault-proxy");
        t.setDaemon(true);
        return t;
    });
    private final List<Socket> open = new ArrayList<>();
    private volatile BiFunction<String, String, Fault> faults = (m, p) -> Fault.NONE;

    FaultProxy(URI upstream) throws IOException {
        this.upstream = upstream;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::acceptLoop);
    }

    URI uri() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    /** @param f decides the fault from the request's method and path */
    void faults(BiFunction<String, String, Fault> f) {
        this.faults = f;
    }

    /** Applies {@code fault} to image data downloads ({@code GET .../file}) only. */
    void onDownload(Fault fault) {
        faults((m, p) -> "GET".equals(m) && p.endsWith("/file") ? fault : Fault.NONE);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                synchronized (open) {
                    open.add(client);
                }
                threads.execute(() -> exchange(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void exchange(Socket client) {
        try (client; Socket up = new Socket()) {
            client.setSoTimeout(60_000);
            InputStream cin = client.getInputStream();
            byte[] head = readHead(cin);
            if (head == null) {
                return;
            }
            String headText = new String(head, StandardCharsets.ISO_8859_1);
            String[] requestLine = headText.substring(0, headText.indexOf("\r\n")).split(" ");
            String method = requestLine[0];
            String path = requestLine[1];
            Fault fault = faults.apply(method, path);
            long contentLength = contentLength(headText);
            byte[] body = contentLength > 0 ? cin.readNBytes((int) contentLength) : new byte[0];
            OutputStream cout = client.getOutputStream();
            if (fault.kind() == Fault.Kind.ANSWER_500) {
                byte[] msg = "<html><body><h1>500 Internal Server Error</h1>injected by the test</body></html>"
                        .getBytes(StandardCharsets.US_ASCII);
                cout.write(("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: "
                        + msg.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                cout.write(msg);
                cout.flush();
                return;
            }
            up.connect(new InetSocketAddress(upstream.getHost(), upstream.getPort()), 5000);
            synchronized (open) {
                open.add(up);
            }
            OutputStream uout = up.getOutputStream();
            uout.write(rewriteHead(headText).getBytes(StandardCharsets.ISO_8859_1));
            uout.write(body);
            uout.flush();
            InputStream uin = up.getInputStream();
            byte[] responseHead = readHead(uin);
            if (responseHead == null) {
                return;
            }
            if (fault.kind() == Fault.Kind.DELAY_HEADERS) {
                Thread.sleep(fault.delayMillis());
            }
            cout.write(responseHead);
            cout.flush();
            pumpBody(uin, cout, fault);
        } catch (IOException | InterruptedException e) {
            // the client went away or the fault cut the exchange
        }
    }

    private static void pumpBody(InputStream in, OutputStream out, Fault fault) throws IOException,
            InterruptedException {
        byte[] buf = new byte[64 * 1024];
        long sent = 0;
        boolean fired = false;
        int n;
        while ((n = in.read(buf)) > 0) {
            switch (fault.kind()) {
                case CUT_BODY, STALL_BODY -> {
                    if (sent + n >= fault.afterBytes()) {
                        out.write(buf, 0, (int) (fault.afterBytes() - sent));
                        out.flush();
                        if (fault.kind() == Fault.Kind.STALL_BODY) {
                            Thread.sleep(fault.delayMillis());
                        }
                        return;
                    }
                }
                case FLIP_BYTE -> {
                    if (fault.afterBytes() >= sent && fault.afterBytes() < sent + n) {
                        buf[(int) (fault.afterBytes() - sent)] ^= 0x5a;
                    }
                }
                case THROTTLE -> {
                    Thread.sleep(fault.delayMillis());
                    if (!fired && sent >= fault.afterBytes()) {
                        fired = true;
                        fault.atOffset().run();
                    }
                }
                default -> {
                }
            }
            out.write(buf, 0, n);
            out.flush();
            sent += n;
        }
    }

    private static byte[] readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            b.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3))
                    ? state + 1 : c == '\r' ? 1 : 0;
            if (b.size() > 65536) {
                throw new IOException("head too long");
            }
        }
        return b.toByteArray();
    }

    private static long contentLength(String head) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("Content-Length")) {
                return Long.parseLong(line.substring(colon + 1).trim());
            }
        }
        return 0;
    }

    private String rewriteHead(String head) {
        StringBuilder sb = new StringBuilder();
        for (String line : head.split("\r\n")) {
            String lower = line.toLowerCase(java.util.Locale.ROOT);
            if (line.isEmpty() || lower.startsWith("connection:") || lower.startsWith("host:")) {
                continue;
            }
            sb.append(line).append("\r\n");
        }
        sb.append("Host: ").append(upstream.getHost()).append(':').append(upstream.getPort()).append("\r\n");
        sb.append("Connection: close\r\n\r\n");
        return sb.toString();
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (open) {
            for (Socket s : open) {
                try {
                    s.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }
        threads.shutdownNow();
    }
}
