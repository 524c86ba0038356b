package berth.driver.api;

/**
 * Told how far a long transfer (image download, upload, load) has come, so a front end can draw a progress bar.
 * Called from the transferring thread; must return quickly.
 */
@FunctionalInterface
@org.osgi.annotation.versioning.ConsumerType
public interface ProgressListener {
    /** A listener that ignores progress. */
    ProgressListener NONE = (what, done, total) -> { };

    /**
     * @param what  short description, for example {@code download busybox}
     * @param done  bytes done so far
     * @param total bytes in all, or -1 when unknown
     */
    void progress(String what, long done, long total);
}
