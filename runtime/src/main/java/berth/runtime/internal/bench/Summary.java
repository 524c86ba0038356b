package berth.runtime.internal.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Latency figures of one operation on one backend and path. Percentiles are nearest-rank: the p-th percentile is
 * the smallest sample with at least p % of the samples at or below it, so every figure is one that was measured.
 *
 * @param backend backend name, for example {@code docker}
 * @param path    {@code berth} (through the compute service) or {@code raw} (the engine's own interface)
 * @param operation operation name, for example {@code boot}
 * @param n       successful samples
 * @param failed  attempts that failed
 * @param p50     median in milliseconds, {@code NaN} without samples
 * @param p90     90th percentile in milliseconds
 * @param max     largest sample in milliseconds
 * @param mean    arithmetic mean in milliseconds
 */
public record Summary(String backend, String path, String operation, int n, int failed, double p50, double p90,
        double max, double mean) {

    static Summary of(String backend, String path, String operation, List<Double> samples, int failed) {
        List<Double> s = new ArrayList<>(samples);
        Collections.sort(s);
        double mean = s.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        return new Summary(backend, path, operation, s.size(), failed, percentile(s, 50), percentile(s, 90),
                s.isEmpty() ? Double.NaN : s.get(s.size() - 1), mean);
    }

    /**
     * @param sorted samples in ascending order
     * @param p      percentile, 0 &lt; p &lt;= 100
     * @return the nearest-rank percentile, {@code NaN} when there are no samples
     */
    static double percentile(List<Double> sorted, double p) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }
}
