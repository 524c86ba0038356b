package berth.image.glance.internal.glance;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * An image download's body under a stall {@link Watchdog.Watch}: every read counts as progress, and a body the
 * watch had to close, or one that broke off, reports a clear error naming the image and how far it got, never a
 * clean end.
 */
final class WatchedInputStream extends FilterInputStream {
    private final String what;
    private final long expectedSize;
    private final Watchdog.Watch watch;
    private long count;

    WatchedInputStream(InputStream in, String what, long expectedSize, Watchdog.Watch watch) {
        super(in);
        this.what = what;
        this.expectedSize = expectedSize;
        this.watch = watch;
    }

    String what() {
        return what;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n;
        try {
            n = in.read(b, off, len);
        } catch (IOException e) {
            throw explain(e);
        }
        watch.touch();
        if (n < 0 && watch.fired()) {
            throw explain(null);
        }
        if (n > 0) {
            count += n;
        }
        return n;
    }

    private IOException explain(IOException e) {
        if (watch.fired()) {
            return new IOException(what + " stalled: no data after " + count + " bytes", e);
        }
        // HttpClient reports a dropped connection as "closed"; the deepest cause says what happened
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return new IOException(what + " broke off after " + count + " of " + expectedSize + " bytes: "
                + why.replaceAll("\\s+", " "), e);
    }

    @Override
    public long skip(long n) throws IOException {
        byte[] buf = new byte[8192];
        long done = 0;
        while (done < n) {
            int r = read(buf, 0, (int) Math.min(buf.length, n - done));
            if (r < 0) {
                break;
            }
            done += r;
        }
        return done;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public void close() throws IOException {
        try {
            super.close();
        } finally {
            watch.close();
        }
    }
}
