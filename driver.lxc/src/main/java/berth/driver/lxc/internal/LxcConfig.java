package berth.driver.lxc.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the LXC backend (PID {@code berth.driver.lxc}). Empty strings mean "use the default". */
@ObjectClassDefinition(name = "Berth LXC driver", description = "LXC backend: lxcpath, scope and container security")
public @interface LxcConfig {
    @AttributeDefinition(description = "lxcpath for Berth's containers; default berth.lxc.path, else ${berth.state.dir}/lxc")
    String lxc_path() default "";

    @AttributeDefinition(description = "scope whose containers this driver creates and lists; default berth.scope")
    String scope() default "";

    @AttributeDefinition(description = "keep setuid/setgid bits when unpacking images (refused otherwise)")
    boolean allow_setuid() default false;

    @AttributeDefinition(description = "unprivileged containers: lxc.idmap entries separated by ';', "
            + "e.g. 'u 0 100000 65536;g 0 100000 65536'; empty for privileged containers with Docker's capabilities")
    String idmap() default "";

    @AttributeDefinition(description = "static busybox used as every container's init shell")
    String busybox() default "/bin/busybox";

    @AttributeDefinition(description = "liblxc library name or path for JNA")
    String library() default "lxc";

    @AttributeDefinition(description = "folder holding lxc-start and lxc-attach")
    String lxc_bin() default "/usr/bin";

    @AttributeDefinition(description = "seccomp profile for containers; empty for none")
    String seccomp_profile() default LxcSettings.DEFAULT_SECCOMP;
}
