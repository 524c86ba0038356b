package berth.image.glance.internal.glance;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * MD5, the multihash and SHA-256 of a download, each on a thread of its own. One thread doing all three
 * manages about 260 MB/s here, slower than Glance sends; in parallel they keep up with the network. The reader
 * fills buffers from a small fixed pool (so the heap does not grow with the image) and hands each to every
 * digest; a buffer returns to the pool when the last digest is done with it.
 */
final class DigestPipeline implements AutoCloseable {
    /** One buffer of data on its way through the digests. */
    static final class Chunk {
        final byte[] buf;
        int len;
        private final AtomicInteger pending = new AtomicInteger();

        private Chunk(int size) {
            buf = new byte[size];
        }
    }

    private static final Chunk END = new Chunk(0);

    private final BlockingQueue<Chunk> free;
    private final List<Worker> workers = new ArrayList<>();
    private final String multihashName;
    private final boolean withSha256;
    private long count;
    private boolean finished;

    private final class Worker extends Thread {
        final MessageDigest digest;
        final BlockingQueue<Chunk> queue;
        byte[] result;

        Worker(String algorithm, int capacity) {
            super("berth-glance-digest-" + algorithm);
            setDaemon(true);
            digest = digest(algorithm);
            queue = new ArrayBlockingQueue<>(capacity + 1);
        }

        @Override
        public void run() {
            try {
                while (true) {
                    Chunk c = queue.take();
                    if (c == END) {
                        result = digest.digest();
                        return;
                    }
                    digest.update(c.buf, 0, c.len);
                    if (c.pending.decrementAndGet() == 0) {
                        free.add(c);
                    }
                }
            } catch (InterruptedException e) {
                // aborted download
            }
        }
    }

    /**
     * @param hashAlgo   Glance's os_hash_algo (sha512 when null)
     * @param withSha256 also compute SHA-256
     * @param buffers    buffers in the pool
     * @param size       bytes per buffer
     */
    DigestPipeline(String hashAlgo, boolean withSha256, int buffers, int size) {
        free = new ArrayBlockingQueue<>(buffers);
        for (int i = 0; i < buffers; i++) {
            free.add(new Chunk(size));
        }
        multihashName = hashAlgo == null ? "sha512" : hashAlgo.toLowerCase(Locale.ROOT);
        workers.add(new Worker("MD5", buffers));
        String mh = switch (multihashName) {
            case "sha512" -> "SHA-512";
            case "sha384" -> "SHA-384";
            case "sha256" -> "SHA-256";
            case "sha1" -> "SHA-1";
            default -> null;
        };
        if (mh != null) {
            workers.add(new Worker(mh, buffers));
        }
        this.withSha256 = withSha256 && !"sha256".equals(multihashName);
        if (this.withSha256) {
            workers.add(new Worker("SHA-256", buffers));
        }
        workers.forEach(Thread::start);
    }

    /** @return an empty buffer, waiting while every buffer is still being digested */
    Chunk next() throws InterruptedException {
        return free.take();
    }

    /** Hands {@code c} holding {@code len} bytes to every digest; returns it to the pool at once if empty. */
    void submit(Chunk c, int len) {
        if (len <= 0) {
            free.add(c);
            return;
        }
        c.len = len;
        c.pending.set(workers.size());
        count += len;
        for (Worker w : workers) {
            w.queue.add(c);
        }
    }

    /** Waits for every digest and returns them. */
    ImageDigests.Result finish() throws InterruptedException {
        finished = true;
        for (Worker w : workers) {
            w.queue.add(END);
        }
        for (Worker w : workers) {
            w.join();
        }
        String md5 = hex(workers.get(0).result);
        int i = 1;
        String mh = null;
        if (workers.size() > (withSha256 ? 2 : 1)) {
            mh = hex(workers.get(i++).result);
        }
        String sha256 = withSha256 ? hex(workers.get(i).result) : "sha256".equals(multihashName) ? mh : null;
        return new ImageDigests.Result(count, md5, multihashName, mh, sha256);
    }

    @Override
    public void close() {
        if (!finished) {
            workers.forEach(Thread::interrupt);
        }
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    private static MessageDigest digest(String name) {
        try {
            return MessageDigest.getInstance(name);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(name + " is missing from this JVM", e);
        }
    }
}
