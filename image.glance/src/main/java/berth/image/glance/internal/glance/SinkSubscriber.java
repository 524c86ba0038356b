package berth.image.glance.internal.glance;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * Hands an image download's body straight to the cache on HttpClient's own threads, without the blocking queue
 * and thread hand-off of an InputStream body (measured here: about half the wall time and a third less CPU for
 * 512 MB). One buffer at a time is requested, so the cache's bounded buffer pool throttles the socket. A body that
 * stalls or breaks off fails with {@link GlanceClient.BodyFailure}, which says how far it got.
 */
final class SinkSubscriber implements HttpResponse.BodySubscriber<Void> {
    /** Receives the data, in order, one call at a time. */
    interface Sink {
        void accept(ByteBuffer data) throws IOException, InterruptedException;
    }

    private final Sink sink;
    private final String what;
    private final long expected;
    private final CompletableFuture<Void> body = new CompletableFuture<>();
    private volatile Flow.Subscription subscription;
    private volatile long count;
    private volatile Watchdog.Watch watch;

    SinkSubscriber(Sink sink, String what, long expected) {
        this.sink = sink;
        this.what = what;
        this.expected = expected;
    }

    void watch(Watchdog.Watch w) {
        this.watch = w;
        body.whenComplete((v, t) -> w.close());
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (body.isDone()) {
            s.cancel();
        } else {
            s.request(1);
        }
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        Watchdog.Watch w = watch;
        if (w != null) {
            w.touch();
        }
        try {
            for (ByteBuffer b : items) {
                int n = b.remaining();
                sink.accept(b);
                count += n;
            }
            subscription.request(1);
        } catch (IOException | RuntimeException e) {
            fail(new GlanceClient.BodyFailure("cannot store " + what + " after " + count + " bytes: "
                    + e.getMessage(), e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(new GlanceClient.BodyFailure("interrupted while storing " + what, e));
        }
    }

    @Override
    public void onError(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        body.completeExceptionally(new GlanceClient.BodyFailure(what + " broke off after " + count + " of "
                + expected + " bytes: " + why.replaceAll("\\s+", " "), t));
    }

    @Override
    public void onComplete() {
        body.complete(null);
    }

    @Override
    public CompletionStage<Void> getBody() {
        return body;
    }

    /** Called by the watchdog when no data came for the stall time. */
    void stall() {
        fail(new GlanceClient.BodyFailure(what + " stalled: no data after " + count + " bytes", null));
    }

    private void fail(GlanceClient.BodyFailure f) {
        body.completeExceptionally(f);
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
    }
}
