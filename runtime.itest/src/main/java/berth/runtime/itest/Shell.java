package berth.runtime.itest;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;

/** Runs command lines the way the shell and the control channel do. */
final class Shell implements AutoCloseable {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final CommandSession session;

    Shell(CommandProcessor processor) {
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        session = processor.createSession(new ByteArrayInputStream(new byte[0]), ps, ps);
    }

    /** @return the result as the shell prints it */
    String run(String line) throws Exception {
        Object result = session.execute(line);
        return result == null ? "" : session.format(result, Converter.INSPECT).toString();
    }

    Object execute(String line) throws Exception {
        return session.execute(line);
    }

    @Override
    public void close() {
        session.close();
    }
}
