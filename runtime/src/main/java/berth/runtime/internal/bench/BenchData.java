package berth.runtime.internal.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The raw samples of one run, collected from the worker threads. Keys keep the order of first appearance so the
 * report lists operations in the order they ran.
 */
final class BenchData {

    /** One measured attempt. {@code millis} is {@code NaN} for a failure. */
    record Sample(String backend, String path, String operation, int instance, double millis, String error) {
    }

    private final List<Sample> samples = new ArrayList<>();
    private final Map<String, MemoryFigures> memory = new LinkedHashMap<>();

    synchronized void ok(String backend, String path, String operation, int instance, double millis) {
        samples.add(new Sample(backend, path, operation, instance, millis, null));
    }

    synchronized void failed(String backend, String path, String operation, int instance, String error) {
        samples.add(new Sample(backend, path, operation, instance, Double.NaN, error == null ? "failed" : error));
    }

    synchronized void memory(MemoryFigures m) {
        memory.put(m.backend(), m);
    }

    synchronized List<Sample> samples() {
        return List.copyOf(samples);
    }

    synchronized List<MemoryFigures> memory() {
        return List.copyOf(memory.values());
    }

    /** @return one summary per (backend, path, operation), in the order they first appeared */
    synchronized List<Summary> summaries() {
        Map<List<String>, List<Double>> ok = new LinkedHashMap<>();
        Map<List<String>, Integer> failed = new LinkedHashMap<>();
        for (Sample s : samples) {
            List<String> k = List.of(s.backend(), s.path(), s.operation());
            ok.computeIfAbsent(k, x -> new ArrayList<>());
            if (s.error() == null) {
                ok.get(k).add(s.millis());
            } else {
                failed.merge(k, 1, Integer::sum);
            }
        }
        List<Summary> out = new ArrayList<>();
        ok.forEach((k, v) -> out.add(Summary.of(k.get(0), k.get(1), k.get(2), v, failed.getOrDefault(k, 0))));
        return out;
    }
}
