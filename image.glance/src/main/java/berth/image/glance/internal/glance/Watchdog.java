package berth.image.glance.internal.glance;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Notices transfers that stop moving. HttpClient's request timeout ends when the response headers arrive, so a
 * body that stalls half-way would otherwise block its reader forever; a watch calls its action (which closes
 * the stream or cancels the exchange) once no progress was seen for the stall time.
 */
final class Watchdog implements AutoCloseable {
    private final ScheduledExecutorService timer;

    Watchdog(String name) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-glance-watchdog-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** One watched transfer. */
    final class Watch implements AutoCloseable {
        private final long stallNanos;
        private final Runnable onStall;
        private volatile long last = System.nanoTime();
        private volatile boolean fired;
        private volatile ScheduledFuture<?> tick;

        private Watch(Duration stall, Runnable onStall) {
            this.stallNanos = stall.toNanos();
            this.onStall = onStall;
        }

        /** Progress was made. */
        void touch() {
            last = System.nanoTime();
        }

        /** @return whether the transfer was declared stalled and its action ran */
        boolean fired() {
            return fired;
        }

        private void check() {
            if (!fired && System.nanoTime() - last > stallNanos) {
                fired = true;
                close();
                onStall.run();
            }
        }

        @Override
        public void close() {
            ScheduledFuture<?> t = tick;
            if (t != null) {
                t.cancel(false);
            }
        }
    }

    /**
     * @param stall   how long without {@link Watch#touch()} counts as stalled
     * @param onStall what to do then, on the watchdog's thread
     * @return the running watch; close it when the transfer ends
     */
    Watch watch(Duration stall, Runnable onStall) {
        Watch w = new Watch(stall, onStall);
        long period = Math.max(50, Math.min(1000, stall.toMillis() / 4));
        w.tick = timer.scheduleAtFixedRate(w::check, period, period, TimeUnit.MILLISECONDS);
        return w;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
