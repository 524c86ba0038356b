package berth.driver.lxc.internal.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * What an unpacked image says about how to run it (from a Docker config; empty for a plain rootfs).
 *
 * @param entrypoint Docker Entrypoint, or empty
 * @param cmd        Docker Cmd, or empty
 * @param env        environment as {@code KEY=VALUE}
 * @param workdir    working folder, or empty
 */
public record ImageMeta(List<String> entrypoint, List<String> cmd, List<String> env, String workdir) {
    public ImageMeta {
        entrypoint = List.copyOf(entrypoint == null ? List.of() : entrypoint);
        cmd = List.copyOf(cmd == null ? List.of() : cmd);
        env = List.copyOf(env == null ? List.of() : env);
        workdir = workdir == null ? "" : workdir;
    }

    /** @return an image that says nothing */
    public static ImageMeta empty() {
        return new ImageMeta(List.of(), List.of(), List.of(), "");
    }

    static ImageMeta fromDockerConfig(JsonNode config) {
        if (config == null || config.isMissingNode() || config.isNull()) {
            return empty();
        }
        return new ImageMeta(strings(config.path("Entrypoint")), strings(config.path("Cmd")),
                strings(config.path("Env")), config.path("WorkingDir").asText(""));
    }

    private static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n.isArray()) {
            n.forEach(x -> out.add(x.asText()));
        } else if (n.isTextual()) {
            out.add(n.asText());
        }
        return out;
    }
}
