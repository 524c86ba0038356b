package berth.runtime.internal.control;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Sends one command line to a running runtime and relays its output and exit code:
 * {@code java -cp berth.runtime.jar berth.runtime.internal.control.ControlClient [--socket PATH] LINE}.
 * {@code --ping} only checks that a runtime answers, {@code --wait SECONDS} waits until one does. Exits
 * {@value #NO_RUNTIME} when none does.
 */
public final class ControlClient {

    /** Exit code when no runtime answers on the socket (EX_UNAVAILABLE). */
    public static final int NO_RUNTIME = 69;
    /** Exit code when the runtime went away before it reported an exit code. */
    public static final int LOST = 70;

    private ControlClient() {
    }

    public static void main(String[] args) {
        String socket = null;
        boolean ping = false;
        int waitSeconds = 0;
        String line = null;
        for (int i = 0; i < args.length; i++) {
            if ("--socket".equals(args[i]) && i + 1 < args.length) {
                socket = args[++i];
            } else if ("--ping".equals(args[i])) {
                ping = true;
            } else if ("--wait".equals(args[i]) && i + 1 < args.length) {
                waitSeconds = Integer.parseInt(args[++i]);
                ping = true;
            } else if (line == null) {
                line = args[i];
            } else {
                System.err.println("berth: give the command line as one argument, for example -c 'nova:list'");
                System.exit(64);
            }
        }
        if (socket == null) {
            socket = RuntimeProperties.controlSocket(System::getProperty);
        }
        if (!ping && line == null) {
            System.err.println("usage: ControlClient [--socket PATH] [--ping | --wait SECONDS] 'COMMAND LINE'");
            System.exit(64);
        }
        if (waitSeconds > 0) {
            // polled in-process, so that bin/measure-startup measures the runtime, not this JVM's start
            long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
            while (run(Path.of(socket), null, System.out, System.err) == NO_RUNTIME) {
                if (System.nanoTime() > deadline) {
                    System.exit(NO_RUNTIME);
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    System.exit(NO_RUNTIME);
                }
            }
            System.exit(0);
        }
        System.exit(run(Path.of(socket), ping ? null : line, System.out, System.err));
    }

    /**
     * @param socket the control socket
     * @param line   the command line, or {@code null} for a ping
     * @return the exit code
     */
    static int run(Path socket, String line, PrintStream out, PrintStream err) {
        SocketChannel ch;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            err.println("berth: " + e.getMessage());
            return LOST;
        }
        try (ch) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                return NO_RUNTIME;
            }
            if (line != null) {
                String cwd = Path.of("").toAbsolutePath().toString();
                ControlProtocol.writeFully(ch, ByteBuffer.wrap(ControlProtocol.request(cwd, line)));
            }
            ch.shutdownOutput();
            ByteBuffer head = ByteBuffer.allocate(5);
            while (true) {
                head.clear();
                if (!readFully(ch, head)) {
                    err.println("berth: the runtime closed the connection before the command finished");
                    return LOST;
                }
                head.flip();
                byte type = head.get();
                int len = head.getInt();
                if (len < 0 || len > (64 << 20)) {
                    err.println("berth: bad reply from the runtime");
                    return LOST;
                }
                ByteBuffer body = ByteBuffer.allocate(len);
                if (!readFully(ch, body)) {
                    err.println("berth: the runtime closed the connection before the command finished");
                    return LOST;
                }
                body.flip();
                if (type == ControlProtocol.EXIT) {
                    out.flush();
                    err.flush();
                    return body.getInt();
                }
                PrintStream target = type == ControlProtocol.ERR ? err : out;
                target.write(body.array(), 0, len);
                target.flush();
            }
        } catch (IOException e) {
            err.println("berth: " + e.getMessage());
            return LOST;
        }
    }

    private static boolean readFully(SocketChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                return false;
            }
        }
        return true;
    }

    /** For tests: runs a line and collects stdout and stderr. */
    static String[] capture(Path socket, String line) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = run(socket, line, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        return new String[] {Integer.toString(code), o.toString(StandardCharsets.UTF_8),
            e.toString(StandardCharsets.UTF_8)};
    }
}
