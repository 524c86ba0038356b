package berth.runtime.internal.compute;

import berth.driver.api.spi.ComputeDriver;
import berth.driver.api.spi.ImageSource;
import java.util.Comparator;
import java.util.Objects;

/** The bound services with the service properties that matter, as the compute manager keeps them. */
final class Entries {
    private Entries() {
    }

    /**
     * A bound compute driver.
     *
     * @param driver        the service
     * @param name          its {@code berth.backend}
     * @param ranking       its service ranking
     * @param serviceId     its service id (the key: one backend name may be served twice during a redeploy)
     * @param bundleVersion version of the bundle that registered it, or {@code null}
     */
    record DriverEntry(ComputeDriver driver, String name, int ranking, long serviceId, String bundleVersion) {
        DriverEntry {
            Objects.requireNonNull(driver, "driver");
            Objects.requireNonNull(name, "name");
        }
    }

    /**
     * A bound image source.
     *
     * @param source    the service
     * @param name      its {@code berth.image.source}
     * @param ranking   its service ranking
     * @param serviceId its service id
     */
    record SourceEntry(ImageSource source, String name, int ranking, long serviceId) {
        SourceEntry {
            Objects.requireNonNull(source, "source");
            Objects.requireNonNull(name, "name");
        }
    }

    /** Highest ranking first; among equals the older service, as OSGi orders service references. */
    static final Comparator<DriverEntry> DRIVER_ORDER = Comparator.comparingInt(DriverEntry::ranking).reversed()
            .thenComparingLong(DriverEntry::serviceId);
    static final Comparator<SourceEntry> SOURCE_ORDER = Comparator.comparingInt(SourceEntry::ranking).reversed()
            .thenComparingLong(SourceEntry::serviceId);
}
