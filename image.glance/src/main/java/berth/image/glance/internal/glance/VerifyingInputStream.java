package berth.image.glance.internal.glance;

import berth.driver.api.ImageInfo;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Passes an image's bytes through while digesting them; at the end of the data it compares size, MD5 and the
 * multihash with Glance's values and throws {@link ImageDigests.MismatchException} instead of reporting the end
 * when they differ. A stall (the watch closed the source) shows as an error too, never as a clean end.
 */
final class VerifyingInputStream extends FilterInputStream {
    private final String what;
    private final ImageInfo expected;
    private final ImageDigests digests;
    private final Watchdog.Watch watch;
    private final Runnable onClose;
    private ImageDigests.Result result;

    VerifyingInputStream(InputStream in, String what, ImageInfo expected, boolean withSha256, Watchdog.Watch watch,
            Runnable onClose) {
        super(in);
        this.what = what;
        this.expected = expected;
        this.digests = new ImageDigests(expected.hashAlgo(), withSha256);
        this.watch = watch;
        this.onClose = onClose;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (result != null) {
            return -1;
        }
        int n;
        try {
            n = in.read(b, off, len);
        } catch (IOException e) {
            throw stalledOr(e);
        }
        if (watch != null) {
            watch.touch();
        }
        if (n < 0) {
            if (watch != null && watch.fired()) {
                throw stalledOr(null);
            }
            ImageDigests.Result r = digests.finish();
            ImageDigests.verify(what, expected, r);
            result = r;
            return -1;
        }
        digests.update(b, off, n);
        return n;
    }

    private IOException stalledOr(IOException e) {
        if (watch != null && watch.fired()) {
            return new IOException(what + " stalled: no data after " + digests.count() + " bytes", e);
        }
        if (e instanceof ImageDigests.MismatchException) {
            return e;
        }
        // HttpClient reports a dropped connection as "closed"; the deepest cause says what happened
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return new IOException(what + " broke off after " + digests.count() + " of " + expected.size()
                + " bytes: " + why.replaceAll("\\s+", " "), e);
    }

    /** @return the verified digests, once the end was read; {@code null} before */
    ImageDigests.Result result() {
        return result;
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
            if (watch != null) {
                watch.close();
            }
            if (onClose != null) {
                onClose.run();
            }
        }
    }
}
