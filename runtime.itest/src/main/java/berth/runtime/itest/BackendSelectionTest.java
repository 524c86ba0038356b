package berth.runtime.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.driver.api.BackendStatus;
import berth.driver.api.ComputeService;
import berth.driver.api.ExecResult;
import berth.driver.api.Instance;
import berth.driver.api.VmState;
import berth.driver.api.spi.ImageSource;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.apache.felix.service.command.CommandProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;
import org.osgi.test.junit5.context.BundleContextExtension;
import org.osgi.test.junit5.service.ServiceExtension;

/**
 * Two TEST-ONLY driver bundles (assembled from {@code berth.runtime.itest.fake} at test time): ranking picks the
 * default, {@code --backend} the other, a stopped driver bundle makes its instances answer "backend X is
 * unavailable" without changing them, and starting the bundle again makes them usable. Everything goes through
 * the Gogo commands, and once through the control socket.
 */
@ExtendWith(BundleContextExtension.class)
@ExtendWith(ServiceExtension.class)
class BackendSelectionTest {

    @InjectBundleContext
    BundleContext context;

    @Test
    void rankingBackendOptionAndAStoppedDriverBundle(
            @InjectService(timeout = 10_000) ComputeService compute,
            @InjectService(timeout = 10_000) CommandProcessor processor) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 6);
        String alpha = "alpha" + run;
        String beta = "beta" + run;
        Path state = Path.of(context.getProperty("berth.state.dir"));
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(ImageSource.SOURCE, FakeImageSource.NAME);
        props.put(Constants.SERVICE_RANKING, 1000);
        ServiceRegistration<ImageSource> images = context.registerService(ImageSource.class,
                new FakeImageSource(state.resolve("itest-images")), props);
        Bundle a = FakeBundles.install(context, alpha, 100);
        Bundle b = FakeBundles.install(context, beta, 50);
        List<String> booted = new ArrayList<>();
        try (Shell shell = new Shell(processor)) {
            a.start();
            b.start();
            waitUntil(() -> present(compute, alpha) && present(compute, beta), "both fake backends present");

            Instance first = (Instance) shell.execute("nova:boot --image fakeimg --flavor c1.nano a-" + run);
            booted.add(first.uuid());
            assertEquals(alpha, first.backend(), "the highest ranking backend is the default");
            assertEquals(VmState.ACTIVE, first.vmState());

            Instance second = (Instance) shell.execute(
                    "nova:boot --image fakeimg --flavor c1.nano --backend " + beta + " b-" + run);
            booted.add(second.uuid());
            assertEquals(beta, second.backend(), "--backend picks the other backend");

            String backends = shell.run("nova:backends");
            assertTrue(backends.contains(alpha) && backends.contains(beta), backends);

            a.stop();
            waitUntil(() -> !present(compute, alpha), "backend " + alpha + " gone");
            Exception down = assertThrows(Exception.class, () -> shell.execute("nova:stop a-" + run));
            assertTrue(down.getMessage().contains("backend " + alpha + " is unavailable"), down.getMessage());
            assertTrue(down.toString().startsWith("ERROR: "), "one clear line: " + down);
            Instance unchanged = compute.show("a-" + run);
            assertEquals(VmState.ACTIVE, unchanged.vmState(), "nothing changed while the backend was absent");
            assertEquals(alpha, unchanged.backend());

            Instance third = (Instance) shell.execute("nova:boot --image fakeimg --flavor c1.nano c-" + run);
            booted.add(third.uuid());
            assertEquals(beta, third.backend(), "with the default backend gone, boots go to the next one");

            a.start();
            waitUntil(() -> present(compute, alpha), "backend " + alpha + " back");
            Instance stopped = (Instance) shell.execute("nova:stop --timeout 1 a-" + run);
            assertEquals(VmState.STOPPED, stopped.vmState(), "usable again once its driver bundle is back");

            Object exec = shell.execute("nova:exec b-" + run + " -- sh -c 'echo a b'");
            ExecResult result = assertInstanceOf(ExecResult.class, exec);
            assertEquals("sh|-c|echo a b\n", result.stdout(), "quoted arguments arrive intact");

            String[] viaSocket = control("nova:exec b-" + run + " -- sh -c 'echo \"a  b\"' x");
            assertEquals("0", viaSocket[0], viaSocket[2]);
            assertEquals("sh|-c|echo \"a  b\"|x\n", viaSocket[1], "through the control socket too");

            String[] failing = control("nova:show no-such-" + run);
            assertEquals("1", failing[0]);
            assertEquals(1, failing[2].strip().lines().count(), "one line: " + failing[2]);
        } finally {
            for (String uuid : booted) {
                try {
                    compute.delete(uuid, true);
                } catch (RuntimeException e) {
                    // best effort: the test's own state directory
                }
            }
            a.uninstall();
            b.uninstall();
            images.unregister();
        }
    }

    private static boolean present(ComputeService compute, String backend) {
        for (BackendStatus s : compute.backends()) {
            if (s.name().equals(backend) && s.present()) {
                return true;
            }
        }
        return false;
    }

    private static void waitUntil(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(20);
        }
    }

    /** A client of the control channel's wire format: returns exit code, stdout, stderr. */
    private String[] control(String line) throws Exception {
        Path socket = Path.of(context.getProperty("berth.control.socket"));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!socket.toFile().exists() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer req = ByteBuffer.wrap(("BERTH1\n/\n" + line).getBytes(StandardCharsets.UTF_8));
            while (req.hasRemaining()) {
                ch.write(req);
            }
            ch.shutdownOutput();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            while (true) {
                ByteBuffer head = read(ch, 5);
                byte type = head.get();
                ByteBuffer body = read(ch, head.getInt());
                if (type == 'X') {
                    return new String[] {Integer.toString(body.getInt()), out.toString(StandardCharsets.UTF_8),
                        err.toString(StandardCharsets.UTF_8)};
                }
                (type == 'E' ? err : out).write(body.array(), 0, body.limit());
            }
        }
    }

    private static ByteBuffer read(SocketChannel ch, int n) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new AssertionError("control channel closed early");
            }
        }
        buf.flip();
        return buf;
    }
}
