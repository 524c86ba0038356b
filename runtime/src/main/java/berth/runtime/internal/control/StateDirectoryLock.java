package berth.runtime.internal.control;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;

/**
 * One runtime per state directory. This is a bundle activator, not a component, on purpose: SCR activates the
 * bundle's components only after the activator returned, so when the lock is held elsewhere the bundle does not
 * start and no component of it (registry, compute manager, control channel) ever touches the directory.
 */
public final class StateDirectoryLock implements BundleActivator {

    /** Name of the lock file inside the state directory. */
    public static final String LOCK_FILE = "runtime.lock";

    private FileChannel channel;
    private FileLock lock;

    @Override
    public void start(BundleContext context) throws Exception {
        Path stateDir = Path.of(RuntimeProperties.stateDir(context::getProperty));
        Files.createDirectories(stateDir);
        Path file = stateDir.resolve(LOCK_FILE);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock l;
        try {
            l = ch.tryLock();
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        if (l == null) {
            String holder = readHolder(ch);
            ch.close();
            String message = "berth: another Berth runtime" + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                    + " already uses state directory " + stateDir + "; use ./berth -c '<command>' to talk to it";
            System.err.println(message);
            // A runtime without its core is useless: stop the framework instead of leaving an empty shell.
            if (!"false".equals(context.getProperty("berth.lock.exit"))) {
                Thread t = new Thread(() -> {
                    try {
                        context.getBundle(0).stop();
                    } catch (BundleException | IllegalStateException e) {
                        // already stopping
                    }
                }, "berth-lock-exit");
                t.setDaemon(true);
                t.start();
            }
            throw new BundleException(message);
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        ch.force(true);
        channel = ch;
        lock = l;
    }

    private static String readHolder(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(32);
            ch.read(buf, 0);
            return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void stop(BundleContext context) throws Exception {
        FileChannel ch = channel;
        channel = null;
        if (ch != null) {
            try {
                lock.release();
            } finally {
                ch.close();
            }
        }
    }
}
