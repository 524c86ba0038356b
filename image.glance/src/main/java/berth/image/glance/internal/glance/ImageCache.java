package berth.image.glance.internal.glance;

import berth.driver.api.EngineException;
import berth.driver.api.ImageInfo;
import berth.driver.api.ProgressListener;
import berth.driver.api.io.DurableFiles;
import berth.driver.api.spi.LocalImage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The compute-side copy of Glance images: {@code <dir>/<image id>-<checksum>.img} plus a {@code .json} record
 * (size, SHA-256, last use, holders). Keyed by id <em>and</em> checksum, so other bytes are never taken for the
 * cached ones. Downloads go to a hidden temporary file, are verified while they stream, forced to disk and only
 * then renamed into place; anything that fails leaves no file behind. Entries nobody holds are evicted, least
 * recently used first, to keep the total under the size limit; held entries are never evicted.
 */
final class ImageCache {
    private static final System.Logger LOG = System.getLogger(ImageCache.class.getName());
    private static final int BUFFER = 1 << 20;
    private static final int BUFFERS = 8;

    /** Delivers an image's bytes, in order, to the sink; returns when all arrived, throws if they did not. */
    interface Fetch {
        void into(SinkSubscriber.Sink sink);
    }

    /** Checks, after a verified download, that the image is still there to be used; throws if not. */
    interface Confirm {
        void run();
    }

    private static final class Entry {
        final String imageId;
        final String key;
        final long size;
        final String sha256;
        long lastUsed;
        /** The file's SHA-256 was seen right in this run (records loaded from disk are checked on first use). */
        volatile boolean checked;
        final Set<String> holders = new LinkedHashSet<>();

        Entry(String imageId, String key, long size, String sha256, long lastUsed) {
            this.imageId = imageId;
            this.key = key;
            this.size = size;
            this.sha256 = sha256;
            this.lastUsed = lastUsed;
        }
    }

    private final Path dir;
    private final long maxBytes;
    private final ObjectMapper json;
    private final Clock clock;
    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<String, Object> keyLocks = new ConcurrentHashMap<>();

    ImageCache(Path dir, long maxBytes, ObjectMapper json, Clock clock) {
        this.dir = dir;
        this.maxBytes = maxBytes;
        this.json = json;
        this.clock = clock;
        try {
            Files.createDirectories(dir);
            load();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare image cache " + dir, e);
        }
    }

    /** The cache key: the image's id and its checksum, so a change of bytes is a different entry. */
    static String key(ImageInfo info) {
        String sum = info.checksum() != null ? info.checksum()
                : info.hashValue() != null ? info.hashValue().substring(0, Math.min(32, info.hashValue().length()))
                : "size" + info.size();
        return safe(info.id()) + "-" + safe(sum.toLowerCase(java.util.Locale.ROOT));
    }

    private static String safe(String s) {
        return s.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /**
     * @return the verified local copy of {@code info}, downloaded first if needed, held for {@code holder}
     * @throws EngineException when the download fails or does not verify (nothing is left behind)
     */
    LocalImage acquire(ImageInfo info, String what, String holder, Fetch fetch, Confirm confirm,
            ProgressListener progress) {
        String key = key(info);
        Object lock = keyLocks.computeIfAbsent(key, k -> new Object());
        synchronized (lock) {
            Entry hit;
            synchronized (this) {
                hit = entries.get(key);
                if (hit != null && Files.isRegularFile(file(key))) {
                    hit.holders.add(holder);
                    hit.lastUsed = clock.millis();
                    persist(hit);
                } else if (hit != null) {
                    forget(hit);
                    hit = null;
                }
            }
            if (hit != null && (hit.checked || intact(hit))) {
                return new LocalImage(info, file(key), hit.sha256);
            }
            Set<String> carried = new LinkedHashSet<>();
            synchronized (this) {
                if (hit != null) {
                    LOG.log(Level.WARNING, "cached image " + info.id() + " was damaged on disk; downloading it again");
                    carried.addAll(hit.holders);
                    forget(hit);
                }
                makeRoom(Math.max(0, info.size()));
            }
            Entry fresh = download(info, what, key, fetch, confirm, progress);
            synchronized (this) {
                fresh.holders.addAll(carried);
                fresh.holders.add(holder);
                entries.put(key, fresh);
                persist(fresh);
                dropOtherVersions(fresh);
                makeRoom(0);
            }
            return new LocalImage(info, file(key), fresh.sha256);
        }
    }

    /** Lets {@code holder} go of every cached version of the image. */
    synchronized void release(String imageId, String holder) {
        for (Entry e : new ArrayList<>(entries.values())) {
            if (e.imageId.equals(imageId) && e.holders.remove(holder)) {
                persist(e);
            }
        }
        makeRoom(0);
    }

    /** Drops the entries of a deleted image that nobody holds. */
    synchronized void evictImage(String imageId) {
        for (Entry e : new ArrayList<>(entries.values())) {
            if (e.imageId.equals(imageId) && e.holders.isEmpty()) {
                forget(e);
            }
        }
    }

    synchronized long totalBytes() {
        return entries.values().stream().mapToLong(e -> e.size).sum();
    }

    synchronized Optional<Path> cachedFile(ImageInfo info) {
        Entry e = entries.get(key(info));
        return e == null ? Optional.empty() : Optional.of(file(e.key));
    }

    synchronized Set<String> holders(String imageId) {
        Set<String> all = new LinkedHashSet<>();
        entries.values().stream().filter(e -> e.imageId.equals(imageId)).forEach(e -> all.addAll(e.holders));
        return all;
    }

    // --------------------------------------------------------------------------------------------- internals

    private Entry download(ImageInfo info, String source, String key, Fetch fetch, Confirm confirm,
            ProgressListener progress) {
        Path tmp;
        try {
            tmp = Files.createTempFile(dir, ".part-" + key + "-", ".tmp");
        } catch (IOException e) {
            throw new EngineException("cannot create a file in image cache " + dir + ": " + e.getMessage());
        }
        boolean done = false;
        try {
            ImageDigests.Result result;
            long t0 = System.nanoTime();
            String what = "download " + (info.name() != null ? info.name() : info.id());
            Progress p = new Progress(progress, what, info.size());
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    DigestPipeline digests = new DigestPipeline(info.hashAlgo(), true, BUFFERS, BUFFER)) {
                ChunkSink sink = new ChunkSink(out, digests, p);
                fetch.into(sink);
                sink.flush();
                result = digests.finish();
                ImageDigests.verify(source, info, result);
                p.done(result.size());
            } catch (IOException e) {
                throw new EngineException(e.getMessage() != null && e.getMessage().startsWith("image ")
                        ? e.getMessage() : "download of image " + info.id() + " failed: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EngineException("interrupted while downloading image " + info.id());
            }
            confirm.run();
            Files.move(tmp, file(key), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            DurableFiles.syncDirectory(dir);
            done = true;
            double secs = (System.nanoTime() - t0) / 1e9;
            LOG.log(Level.INFO, () -> String.format("cached image %s (%d bytes, %.1f MB/s)", info.id(), result.size(),
                    result.size() / 1e6 / Math.max(secs, 1e-9)));
            Entry entry = new Entry(info.id(), key, result.size(), result.sha256(), clock.millis());
            entry.checked = true;
            return entry;
        } catch (IOException e) {
            throw new EngineException("cannot store image " + info.id() + " in cache " + dir + ": " + e.getMessage());
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "cannot delete partial download " + tmp + ": " + e.getMessage());
                }
            }
        }
    }

    /**
     * Image files are not forced to disk when they are downloaded (that cost more than the download itself);
     * instead a record found on disk at start-up is trusted only after its file's size and SHA-256 are checked
     * once, so what a crash left half-written is downloaded again.
     */
    private boolean intact(Entry e) {
        Path f = file(e.key);
        try {
            if (Files.size(f) != e.size) {
                return false;
            }
            java.security.MessageDigest d = java.security.MessageDigest.getInstance("SHA-256");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                ByteBuffer buf = ByteBuffer.allocate(BUFFER);
                while (ch.read(buf.clear()) > 0) {
                    d.update(buf.array(), 0, buf.position());
                }
            }
            boolean ok = java.util.HexFormat.of().formatHex(d.digest()).equals(e.sha256);
            e.checked = ok;
            return ok;
        } catch (IOException | java.security.NoSuchAlgorithmException x) {
            return false;
        }
    }

    private void dropOtherVersions(Entry keep) {
        for (Entry e : new ArrayList<>(entries.values())) {
            if (e != keep && e.imageId.equals(keep.imageId) && e.holders.isEmpty()) {
                forget(e);
            }
        }
    }

    /** Evicts unheld entries, least recently used first, until {@code incoming} more bytes fit. */
    private void makeRoom(long incoming) {
        long total = entries.values().stream().mapToLong(e -> e.size).sum();
        if (total + incoming <= maxBytes) {
            return;
        }
        List<Entry> candidates = new ArrayList<>(entries.values().stream().filter(e -> e.holders.isEmpty()).toList());
        candidates.sort(Comparator.comparingLong(e -> e.lastUsed));
        for (Entry e : candidates) {
            if (total + incoming <= maxBytes) {
                break;
            }
            LOG.log(Level.INFO, () -> "evicting image " + e.imageId + " (" + e.size + " bytes) from the cache");
            forget(e);
            total -= e.size;
        }
    }

    private void forget(Entry e) {
        entries.remove(e.key);
        try {
            DurableFiles.delete(meta(e.key));
            Files.deleteIfExists(file(e.key));
        } catch (IOException x) {
            LOG.log(Level.WARNING, "cannot delete cached image " + file(e.key) + ": " + x.getMessage());
        }
    }

    private void persist(Entry e) {
        ObjectNode n = json.createObjectNode();
        n.put("imageId", e.imageId).put("key", e.key).put("size", e.size).put("sha256", e.sha256)
                .put("lastUsed", e.lastUsed);
        e.holders.forEach(n.putArray("holders")::add);
        try {
            DurableFiles.write(meta(e.key), json.writeValueAsBytes(n));
        } catch (IOException x) {
            throw new EngineException("cannot record cached image " + e.imageId + " in " + dir + ": " + x.getMessage());
        }
    }

    private void load() throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith(".")) {
                    // partial downloads and half-written records from a crash
                    Files.deleteIfExists(p);
                }
            }
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path p : ds) {
                String key = p.getFileName().toString().replaceFirst("\\.json$", "");
                try {
                    JsonNode n = json.readTree(p.toFile());
                    Entry e = new Entry(n.path("imageId").asText(), key, n.path("size").asLong(),
                            n.path("sha256").asText(), n.path("lastUsed").asLong());
                    n.path("holders").forEach(h -> e.holders.add(h.asText()));
                    Path f = file(key);
                    if (e.sha256.matches("[0-9a-f]{64}") && Files.isRegularFile(f) && Files.size(f) == e.size) {
                        entries.put(key, e);
                        continue;
                    }
                } catch (IOException | RuntimeException x) {
                    LOG.log(Level.WARNING, "dropping unreadable cache record " + p + ": " + x.getMessage());
                }
                Files.deleteIfExists(p);
                Files.deleteIfExists(file(key));
            }
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.img")) {
            for (Path p : ds) {
                String key = p.getFileName().toString().replaceFirst("\\.img$", "");
                if (!entries.containsKey(key)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    Path file(String key) {
        return dir.resolve(key + ".img");
    }

    private Path meta(String key) {
        return dir.resolve(key + ".json");
    }

    /**
     * Packs arriving data into the pipeline's buffers: each full buffer is written to the file and handed to the
     * digests. Called by one thread at a time (HttpClient's, in order), then flushed by the downloading thread.
     */
    private static final class ChunkSink implements SinkSubscriber.Sink {
        private final FileChannel out;
        private final DigestPipeline digests;
        private final Progress progress;
        private DigestPipeline.Chunk current;
        private int pos;
        private long total;

        ChunkSink(FileChannel out, DigestPipeline digests, Progress progress) {
            this.out = out;
            this.digests = digests;
            this.progress = progress;
        }

        @Override
        public void accept(ByteBuffer data) throws IOException, InterruptedException {
            while (data.hasRemaining()) {
                if (current == null) {
                    current = digests.next();
                    pos = 0;
                }
                int n = Math.min(data.remaining(), current.buf.length - pos);
                data.get(current.buf, pos, n);
                pos += n;
                total += n;
                if (pos == current.buf.length) {
                    flush();
                }
            }
            progress.update(total);
        }

        void flush() throws IOException {
            if (current == null) {
                return;
            }
            ByteBuffer bb = ByteBuffer.wrap(current.buf, 0, pos);
            while (bb.hasRemaining()) {
                out.write(bb);
            }
            digests.submit(current, pos);
            current = null;
        }
    }

    /** Rate-limited progress reports, so a fast download does not flood the listener. */
    static final class Progress {
        private final ProgressListener listener;
        private final String what;
        private final long total;
        private long nextAt;

        Progress(ProgressListener listener, String what, long total) {
            this.listener = listener == null ? ProgressListener.NONE : listener;
            this.what = what;
            this.total = total;
        }

        void update(long done) {
            long now = System.nanoTime();
            if (now >= nextAt) {
                nextAt = now + 200_000_000L;
                safe(done);
            }
        }

        void done(long done) {
            safe(done);
        }

        private void safe(long done) {
            try {
                listener.progress(what, done, total);
            } catch (RuntimeException e) {
                // a broken progress bar must not break the transfer
            }
        }
    }
}
