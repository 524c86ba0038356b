package berth.runtime.internal.control;

import berth.driver.api.BerthException;
import berth.driver.api.ExecResult;
import berth.runtime.internal.deploy.Deployments;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.startlevel.FrameworkStartLevel;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The control channel: {@code ./berth -c} reaches this runtime through a unix socket in a directory only root
 * (the runtime's user) may enter. Each connection runs one command line in its own Gogo session; Gogo parses
 * the line, so quoting works as in the shell and arguments arrive intact.
 */
@Component(immediate = true, service = ControlChannel.class)
public class ControlChannel {

    private static final int MAX_CONCURRENT = 16;
    /** Unqualified command names resolve in this order, so {@code help} is berth:help, {@code list} nova:list. */
    static final String SCOPE = "nova:glance:net:berth:gogo:*";

    private final CommandProcessor processor;
    private final Path socket;
    private final ServerSocketChannel server;
    private final ExecutorService workers;
    private final Thread acceptor;
    private final BundleContext context;
    private final Thread waiter;
    private final AtomicBoolean opened = new AtomicBoolean();

    /** The hot deployer, when present: the channel opens after its first scan. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile Deployments deployments;

    @Activate
    public ControlChannel(BundleContext context, @Reference CommandProcessor processor) throws IOException {
        this.processor = processor;
        this.socket = Path.of(RuntimeProperties.controlSocket(context::getProperty));
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        AtomicInteger n = new AtomicInteger();
        this.workers = new ThreadPoolExecutor(0, MAX_CONCURRENT, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> {
                    Thread t = new Thread(r, "berth-control-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.acceptor = new Thread(this::accept, "berth-control-accept");
        acceptor.setDaemon(true);
        // Answer only once the framework has started: then the bundles deployed from deploy/ (backends, image
        // sources, networks) are running, and a headless ./berth -c does not run its command without them.
        // Polled rather than event-driven: the bnd launcher changes start levels in ways that do not always
        // deliver STARTED to a listener registered this early.
        this.context = context;
        this.waiter = new Thread(this::openWhenStarted, "berth-control-wait");
        waiter.setDaemon(true);
        waiter.start();
    }

    private static int beginningLevel(BundleContext context) {
        try {
            String s = context.getProperty("org.osgi.framework.startlevel.beginning");
            return s == null ? 1 : Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    private void openWhenStarted() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        int target = beginningLevel(context);
        try {
            String waitingFor;
            while ((waitingFor = notStarted(target)) != null) {
                if (System.nanoTime() > deadline) {
                    System.err.println("berth: control channel: framework not started after 60 s (" + waitingFor
                            + "); listening anyway");
                    break;
                }
                Thread.sleep(20);
            }
            Deployments d = deployments;
            if (d != null) {
                // the bundles in deploy/ are installed and switched before the first command runs
                d.scanNow();
            }
            settle(deadline);
        } catch (InterruptedException e) {
            return;
        } catch (IllegalStateException e) {
            return; // the bundle stopped meanwhile
        } catch (RuntimeException e) {
            System.err.println("berth: control channel: deploy scan failed: " + e);
        }
        open();
    }

    /**
     * Engines announce themselves asynchronously (a monitor pings the engine, then the driver registers), so the
     * channel can also wait until the service registry has been quiet for {@code berth.control.settle.ms}
     * (default 0): a headless {@code ./berth -c} sets it, so that its one command sees the same backends as a
     * runtime that has been running for a while.
     */
    private void settle(long deadline) throws InterruptedException {
        long quietNanos = TimeUnit.MILLISECONDS.toNanos(settleMillis(context));
        long limit = Math.min(deadline, System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
        java.util.concurrent.atomic.AtomicLong last = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
        org.osgi.framework.ServiceListener l = e -> last.set(System.nanoTime());
        context.addServiceListener(l);
        try {
            while (System.nanoTime() - last.get() < quietNanos && System.nanoTime() < limit) {
                Thread.sleep(20);
            }
        } finally {
            context.removeServiceListener(l);
        }
    }

    private static long settleMillis(BundleContext context) {
        try {
            String s = context.getProperty("berth.control.settle.ms");
            return s == null ? 0 : Math.max(0, Long.parseLong(s.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** @return what the framework start still waits for, or {@code null} when it is done */
    private String notStarted(int target) {
        Bundle system = context.getBundle(0);
        if (system.getState() != Bundle.ACTIVE) {
            return "framework starting";
        }
        // The bnd launcher installs and starts the run bundles itself and then marks its service ready.
        ServiceReference<?>[] launcher;
        try {
            launcher = context.getAllServiceReferences(null, "(launcher.ready=*)");
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        if (launcher != null) {
            for (ServiceReference<?> r : launcher) {
                if (!"true".equals(String.valueOf(r.getProperty("launcher.ready")))) {
                    return "launcher not ready";
                }
            }
        } else {
            int level = system.adapt(FrameworkStartLevel.class).getStartLevel();
            if (level < target) {
                return "start level " + level + " of " + target;
            }
        }
        for (Bundle b : context.getBundles()) {
            String policy = b.getHeaders("").get("Bundle-ActivationPolicy");
            if (b.getState() == Bundle.STARTING && (policy == null || !policy.contains("lazy"))) {
                return b.getSymbolicName() + " starting";
            }
        }
        return null;
    }

    private void open() {
        if (!opened.compareAndSet(false, true)) {
            return;
        }
        try {
            bind(server, socket);
        } catch (IOException e) {
            System.err.println("berth: control channel: cannot listen on " + socket + ": " + e.getMessage());
            return;
        }
        acceptor.start();
    }

    /** @return the path of the socket this runtime listens on */
    public Path socket() {
        return socket;
    }

    private static void bind(ServerSocketChannel s, Path socket) throws IOException {
        Path dir = socket.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        if (Files.exists(socket)) {
            if (ControlClient.run(socket, null, nullStream(), nullStream()) == 0) {
                throw new IOException("another Berth runtime already listens on " + socket);
            }
            Files.delete(socket);
        }
        s.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    }

    private static PrintStream nullStream() {
        return new PrintStream(OutputStream.nullOutputStream());
    }

    private void accept() {
        while (server.isOpen()) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
                System.err.println("berth: control channel: " + e.getMessage());
                continue;
            }
            try {
                workers.execute(() -> serve(ch));
            } catch (RejectedExecutionException e) {
                try (ch) {
                    byte[] msg = ("berth: the runtime is busy (" + MAX_CONCURRENT + " commands running)\n")
                            .getBytes(StandardCharsets.UTF_8);
                    ControlProtocol.frame(ch, ControlProtocol.ERR, msg, 0, msg.length);
                    exit(ch, 75);
                } catch (IOException ignored) {
                    // the client went away
                }
            }
        }
    }

    private void serve(SocketChannel ch) {
        try (ch) {
            byte[] request = readRequest(ch);
            if (request == null) {
                return;
            }
            if (request.length == 0) {
                exit(ch, 0);
                return;
            }
            String text = new String(request, StandardCharsets.UTF_8);
            if (!text.startsWith(ControlProtocol.MAGIC)) {
                exit(ch, 64);
                return;
            }
            text = text.substring(ControlProtocol.MAGIC.length());
            int nl = text.indexOf('\n');
            String cwd = nl < 0 ? "" : text.substring(0, nl);
            String line = nl < 0 ? text : text.substring(nl + 1);
            exit(ch, execute(ch, cwd, line));
        } catch (IOException e) {
            // the client went away; the command (if any) has run to its end
        }
    }

    private static byte[] readRequest(SocketChannel ch) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(8192);
        while (true) {
            buf.clear();
            int r = ch.read(buf);
            if (r < 0) {
                return all.toByteArray();
            }
            all.write(buf.array(), 0, r);
            if (all.size() > ControlProtocol.MAX_REQUEST) {
                byte[] msg = "berth: command line too long\n".getBytes(StandardCharsets.UTF_8);
                ControlProtocol.frame(ch, ControlProtocol.ERR, msg, 0, msg.length);
                exit(ch, 64);
                return null;
            }
        }
    }

    private int execute(SocketChannel ch, String cwd, String line) throws IOException {
        PrintStream out = new PrintStream(new FrameStream(ch, ControlProtocol.OUT), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FrameStream(ch, ControlProtocol.ERR), true, StandardCharsets.UTF_8);
        CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, err);
        try {
            // the same resolution order as the interactive shell's etc/gosh_profile
            session.put("SCOPE", SCOPE);
            if (!cwd.isEmpty() && Files.isDirectory(Path.of(cwd))) {
                session.currentDir(Path.of(cwd));
            }
            int code = 0;
            try {
                Object result = session.execute(line);
                if (result instanceof ExecResult r) {
                    out.print(r.stdout());
                    err.print(r.stderr());
                    code = r.exitCode();
                } else if (result != null) {
                    CharSequence text = session.format(result, Converter.INSPECT);
                    if (text.length() > 0) {
                        out.println(text);
                    }
                }
            } catch (Exception e) {
                err.println(describe(e));
                code = 1;
            }
            out.flush();
            err.flush();
            return code;
        } finally {
            session.close();
        }
    }

    static String describe(Throwable e) {
        if (e instanceof BerthException) {
            return "ERROR: " + e.getMessage();
        }
        String s = e.toString();
        if (s.startsWith("ERROR: ") || e.getMessage() == null) {
            return s;
        }
        return e.getClass().getName().startsWith("org.apache.felix.gogo") || e instanceof IllegalArgumentException
                ? "ERROR: " + e.getMessage() : s;
    }

    private static void exit(SocketChannel ch, int code) throws IOException {
        byte[] b = ByteBuffer.allocate(4).putInt(code).array();
        ControlProtocol.frame(ch, ControlProtocol.EXIT, b, 0, 4);
    }

    @Deactivate
    void close() {
        waiter.interrupt();
        boolean wasBound = opened.get() && acceptor.isAlive();
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        acceptor.interrupt();
        workers.shutdownNow();
        try {
            if (wasBound) {
                Files.deleteIfExists(socket);
            }
        } catch (IOException ignored) {
            // a stale socket is replaced at the next start
        }
    }

    /** Sends what a command writes as frames, as it writes it. */
    private static final class FrameStream extends OutputStream {
        private final SocketChannel ch;
        private final byte type;

        FrameStream(SocketChannel ch, byte type) {
            this.ch = ch;
            this.type = type;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return;
            }
            synchronized (ch) {
                ControlProtocol.frame(ch, type, b, off, len);
            }
        }
    }
}
