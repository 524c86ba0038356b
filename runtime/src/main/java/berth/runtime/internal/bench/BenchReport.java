package berth.runtime.internal.bench;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@code nova:bench} returns: the figures and where the report files are. {@link BenchFormats} prints it as
 * tables; scripts can read its parts.
 *
 * @param folder  the report folder
 * @param files   the files written there
 * @param latency p50/p90/max per operation, backend and path
 * @param memory  memory per backend
 */
public record BenchReport(Path folder, List<Path> files, List<Summary> latency, List<MemoryFigures> memory) {
    public BenchReport {
        files = List.copyOf(files);
        latency = List.copyOf(latency);
        memory = List.copyOf(memory);
    }
}
