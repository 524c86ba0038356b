package berth.runtime.internal.shell;

import static berth.runtime.internal.shell.Calls.call;

import berth.driver.api.ContainerFormat;
import berth.driver.api.DiskFormat;
import berth.driver.api.ImageInfo;
import berth.driver.api.ImageQuery;
import berth.driver.api.NotFoundException;
import berth.driver.api.spi.ImageSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.Constants;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The {@code glance:} commands, talking to the image sources directly: {@code --source} picks one by name,
 * otherwise the highest-ranked source present is used (listing shows every source).
 */
@Component(service = GlanceCommands.class)
@GogoCommand(scope = "glance", function = {"images", "show", "import", "delete"})
public class GlanceCommands {

    static final String SCOPE = "glance";
    private static final String HELP_TEXT = "show this help";

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<Map.Entry<Map<String, Object>, ImageSource>> sources;

    private static String usage(String function, String synopsis) {
        return Usage.of(GlanceCommands.class, SCOPE, function, synopsis);
    }

    /** @return the present sources, highest ranking first */
    private List<ImageSource> ranked() {
        List<Map.Entry<Map<String, Object>, ImageSource>> present = sources;
        List<Map.Entry<Map<String, Object>, ImageSource>> copy = new ArrayList<>(present == null ? List.of() : present);
        copy.sort(Comparator.comparingInt((Map.Entry<Map<String, Object>, ImageSource> e) -> ranking(e.getKey()))
                .reversed());
        List<ImageSource> out = new ArrayList<>();
        copy.forEach(e -> out.add(e.getValue()));
        return out;
    }

    private static int ranking(Map<String, Object> props) {
        Object r = props.get(Constants.SERVICE_RANKING);
        return r instanceof Integer ? (Integer) r : 0;
    }

    private ImageSource pick(String source) {
        List<ImageSource> all = ranked();
        if (all.isEmpty()) {
            throw new ShellError("no image source is available");
        }
        if (source == null || source.isEmpty()) {
            return all.get(0);
        }
        for (ImageSource s : all) {
            if (s.name().equals(source)) {
                return s;
            }
        }
        List<String> names = new ArrayList<>();
        all.forEach(s -> names.add(s.name()));
        throw new ShellError("image source " + source + " is unavailable (present: " + String.join(", ", names) + ")");
    }

    @Descriptor("list images of every image source, or of one")
    public Object images(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("only this image source") @Parameter(names = "--source", absentValue = "") String source,
            @Descriptor("only images of this name") @Parameter(names = "--name", absentValue = "") String name,
            String... args) {
        if (help) {
            return usage("images", "");
        }
        String cmd = "glance:images";
        return call(cmd, () -> {
            Args.parse(cmd, args, Set.of(), Map.of()).exactly(cmd, 0, "no arguments");
            ImageQuery q = new ImageQuery(name.isEmpty() ? null : name, null, null, null, null, Map.of(), 0);
            List<ImageInfo> out = new ArrayList<>();
            if (source.isEmpty()) {
                for (ImageSource s : ranked()) {
                    out.addAll(s.list(q));
                }
            } else {
                out.addAll(pick(source).list(q));
            }
            return Listed.of(ImageInfo.class, out);
        });
    }

    @Descriptor("show an image")
    public Object show(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("image source to ask; default: the highest-ranked") @Parameter(names = "--source", absentValue = "") String source,
            String... args) {
        if (help) {
            return usage("show", "ID|NAME");
        }
        String cmd = "glance:show";
        return call(cmd, () -> {
            String ref = Args.parse(cmd, args, Set.of(), Map.of()).one(cmd, "ID|NAME");
            ImageSource s = pick(source);
            return s.find(ref).orElseThrow(() -> new NotFoundException("image " + ref + " not found in " + s.name()));
        });
    }

    @Descriptor("upload an image file (a docker save archive or a rootfs tar) to an image source")
    public Object _import(CommandSession session,
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("image name (required)") @Parameter(names = "--name", absentValue = "") String name,
            @Descriptor("docker (a docker save archive) or bare (a rootfs tar)") @Parameter(names = "--container-format", absentValue = "docker") String containerFormat,
            @Descriptor("raw or root-tar") @Parameter(names = "--disk-format", absentValue = "raw") String diskFormat,
            @Descriptor("image source to upload to; default: the highest-ranked") @Parameter(names = "--source", absentValue = "") String source,
            @Descriptor("extra property KEY=VALUE; repeatable") @Parameter(names = "--property", absentValue = "") String property,
            String... args) {
        if (help) {
            return usage("import", "FILE");
        }
        String cmd = "glance:import";
        return call(cmd, () -> {
            Args a = Args.parse(cmd, args, Set.of("--property"), Map.of("--property", property));
            String file = a.one(cmd, "FILE");
            if (name.isEmpty()) {
                throw new ShellError(cmd + ": --name is required");
            }
            Path path = session == null ? Path.of(file) : session.currentDir().resolve(file);
            if (!Files.isRegularFile(path)) {
                throw new ShellError(cmd + ": no such file " + path);
            }
            ContainerFormat cf = ContainerFormat.of(containerFormat);
            DiskFormat df = DiskFormat.of(diskFormat);
            ImageSource s = pick(source);
            try (InputStream in = Files.newInputStream(path)) {
                return s.upload(name, cf, df, Args.keyValues(cmd, a.all("--property")), in, Calls.progress());
            } catch (IOException e) {
                throw new ShellError(cmd + ": cannot read " + path + ": " + e.getMessage(), e);
            }
        });
    }

    @Descriptor("delete an image")
    public Object delete(
            @Descriptor(HELP_TEXT) @Parameter(names = {"-h", "--help"}, presentValue = "true", absentValue = "false") boolean help,
            @Descriptor("image source to delete from; default: the highest-ranked") @Parameter(names = "--source", absentValue = "") String source,
            String... args) {
        if (help) {
            return usage("delete", "ID|NAME");
        }
        String cmd = "glance:delete";
        return call(cmd, () -> {
            String ref = Args.parse(cmd, args, Set.of(), Map.of()).one(cmd, "ID|NAME");
            ImageSource s = pick(source);
            ImageInfo image = s.find(ref)
                    .orElseThrow(() -> new NotFoundException("image " + ref + " not found in " + s.name()));
            s.delete(image.id());
            return "deleted image " + image.id() + (image.name() == null ? "" : " (" + image.name() + ")");
        });
    }
}
