package berth.runtime.internal.shell;

import berth.driver.api.BerthException;
import berth.driver.api.ProgressListener;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.Supplier;
import org.apache.felix.service.command.Process;

/** What every command does around its work: one-line errors and progress on the caller's stderr. */
final class Calls {
    private Calls() {
    }

    static <T> T call(String command, Supplier<T> work) {
        try {
            return work.get();
        } catch (ShellError e) {
            throw e;
        } catch (BerthException e) {
            throw new ShellError(e.getMessage(), e);
        } catch (IllegalArgumentException | IllegalStateException | NullPointerException e) {
            throw new ShellError(command + ": " + e.getMessage(), e);
        }
    }

    static <T> T require(T service, String what) {
        if (service == null) {
            throw new ShellError(what + " is not available");
        }
        return service;
    }

    /**
     * Progress goes to the stderr of the pipeline that runs the command. Captured now, because transfers may
     * report from another thread, where Gogo's per-thread System.err would point elsewhere.
     */
    static ProgressListener progress() {
        Process p = Process.Utils.current();
        PrintStream err = p != null ? p.err() : System.err;
        return new ProgressListener() {
            private long lastPrint;
            private String lastWhat = "";

            @Override
            public synchronized void progress(String what, long done, long total) {
                long now = System.nanoTime();
                boolean finished = total > 0 && done >= total;
                if (!finished && what.equals(lastWhat) && now - lastPrint < 1_000_000_000L) {
                    return;
                }
                lastPrint = now;
                lastWhat = what;
                if (total > 0) {
                    err.printf(Locale.ROOT, "%s: %s / %s (%d%%)%n", what, mb(done), mb(total), done * 100 / total);
                } else {
                    err.printf(Locale.ROOT, "%s: %s%n", what, mb(done));
                }
                err.flush();
            }
        };
    }

    static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1048576.0);
    }
}
