package berth.image.glance.internal.glance;

import berth.driver.api.ImageInfo;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Passes an image's bytes through while digesting them; at the end of the data it compares size, MD5 and the
 * multihash with Glance's values and throws {@link ImageDigests.MismatchException} instead of reporting the end
 * when they differ.
 */
final class VerifyingInputStream extends FilterInputStream {
    private final String what;
    private final ImageInfo expected;
    private final ImageDigests digests;
    private ImageDigests.Result result;
    private IOException failure;

    VerifyingInputStream(InputStream in, String what, ImageInfo expected) {
        super(in);
        this.what = what;
        this.expected = expected;
        this.digests = new ImageDigests(expected.hashAlgo(), false);
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (failure != null) {
            throw failure;
        }
        if (result != null) {
            return -1;
        }
        int n = in.read(b, off, len);
        if (n < 0) {
            ImageDigests.Result r = digests.finish();
            try {
                ImageDigests.verify(what, expected, r);
            } catch (ImageDigests.MismatchException e) {
                failure = e;
                throw e;
            }
            result = r;
            return -1;
        }
        digests.update(b, off, n);
        return n;
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
}
