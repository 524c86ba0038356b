package berth.driver.lxc.internal.jna;

/**
 * Byte offsets in liblxc 5's {@code struct lxc_container} (x86_64). JNA cannot check these against the header, so
 * a test compiles a C program with {@code offsetof} against {@code <lxc/lxccontainer.h>} and compares every
 * constant here; a mismatch fails that test instead of calling a wrong function pointer.
 */
public final class LxcLayout {
    public static final int SIZEOF = 568;
    public static final int NAME = 0;
    public static final int ERROR_STRING = 56;
    public static final int ERROR_NUM = 64;
    public static final int CONFIG_PATH = 72;
    public static final int IS_DEFINED = 80;
    public static final int STATE = 88;
    public static final int IS_RUNNING = 96;
    public static final int INIT_PID = 120;
    public static final int LOAD_CONFIG = 128;
    public static final int STOP = 152;
    public static final int SET_CONFIG_ITEM = 192;
    public static final int DESTROY = 200;
    public static final int CLEAR_CONFIG = 256;
    public static final int GET_CONFIG_ITEM = 272;
    public static final int GET_CGROUP_ITEM = 312;
    public static final int SET_CGROUP_ITEM = 320;

    /** Field name in the C header for each constant above (except SIZEOF), for the layout test. */
    public static final java.util.Map<String, Integer> FIELDS = java.util.Map.ofEntries(
            java.util.Map.entry("name", NAME),
            java.util.Map.entry("error_string", ERROR_STRING),
            java.util.Map.entry("error_num", ERROR_NUM),
            java.util.Map.entry("config_path", CONFIG_PATH),
            java.util.Map.entry("is_defined", IS_DEFINED),
            java.util.Map.entry("state", STATE),
            java.util.Map.entry("is_running", IS_RUNNING),
            java.util.Map.entry("init_pid", INIT_PID),
            java.util.Map.entry("load_config", LOAD_CONFIG),
            java.util.Map.entry("stop", STOP),
            java.util.Map.entry("set_config_item", SET_CONFIG_ITEM),
            java.util.Map.entry("destroy", DESTROY),
            java.util.Map.entry("clear_config", CLEAR_CONFIG),
            java.util.Map.entry("get_config_item", GET_CONFIG_ITEM),
            java.util.Map.entry("get_cgroup_item", GET_CGROUP_ITEM),
            java.util.Map.entry("set_cgroup_item", SET_CGROUP_ITEM));

    private LxcLayout() {
    }
}
