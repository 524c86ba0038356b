package berth.runtime.internal.control;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * The control channel's wire format; plain JDK so that {@link ControlClient} runs without OSGi.
 *
 * <p>Request: {@code BERTH1\n}, the client's working directory, {@code \n}, the command line (UTF-8), then the
 * client half-closes. An empty request (connect and half-close) is a ping. Response: frames of one type byte,
 * a 4-byte length and the payload: {@link #OUT} and {@link #ERR} carry text as the command produces it,
 * {@link #EXIT} carries the 4-byte exit code and ends the response.
 */
public final class ControlProtocol {
    public static final String MAGIC = "BERTH1\n";
    public static final byte OUT = 'O';
    public static final byte ERR = 'E';
    public static final byte EXIT = 'X';
    /** Requests larger than this are refused. */
    public static final int MAX_REQUEST = 1 << 20;

    private ControlProtocol() {
    }

    static byte[] request(String cwd, String line) {
        return (MAGIC + cwd + "\n" + line).getBytes(StandardCharsets.UTF_8);
    }

    static void writeFully(SocketChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    static void frame(SocketChannel ch, byte type, byte[] data, int off, int len) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(5).put(type).putInt(len);
        head.flip();
        writeFully(ch, head);
        writeFully(ch, ByteBuffer.wrap(data, off, len));
    }
}
