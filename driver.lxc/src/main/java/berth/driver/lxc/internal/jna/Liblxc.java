package berth.driver.lxc.internal.jna;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.util.Objects;

/**
 * liblxc 5 ({@code liblxc.so.1}) through JNA, limited to calls that do not fork: liblxc's own {@code start()}
 * would drag the JVM into the container's monitor cgroup and leave a JVM-sized monitor process (facts.md), so
 * starting is done by {@code lxc-start} as a child process and attach by {@code lxc-attach}.
 *
 * <p>{@code struct lxc_container} is reached by pointer and its function pointers read at the offsets in
 * {@link LxcLayout}, which a test checks against the C header.
 */
public final class Liblxc {
    private final NativeLibrary lib;
    private final Function containerNew;
    private final Function containerPut;
    private final String version;

    private Liblxc(NativeLibrary lib) {
        this.lib = lib;
        this.containerNew = lib.getFunction("lxc_container_new");
        this.containerPut = lib.getFunction("lxc_container_put");
        this.version = (String) lib.getFunction("lxc_get_version").invoke(String.class, new Object[0]);
    }

    /**
     * Loads liblxc.
     *
     * @param name library name or path, normally {@code lxc} (liblxc.so.1 is found through {@code lxc.so.1})
     * @return the binding
     * @throws UnsatisfiedLinkError when the library does not load
     */
    public static Liblxc load(String name) {
        NativeLibrary lib;
        try {
            lib = NativeLibrary.getInstance(name);
        } catch (UnsatisfiedLinkError e) {
            if (!"lxc".equals(name)) {
                throw e;
            }
            lib = NativeLibrary.getInstance("liblxc.so.1");
        }
        return new Liblxc(lib);
    }

    /** @return liblxc's version, for example {@code 5.0.2} */
    public String version() {
        return version;
    }

    /**
     * Opens a handle on a container (defined or not); close it to release the reference.
     *
     * @param name    container name
     * @param lxcpath the lxcpath it lives under
     * @return the handle
     * @throws IllegalStateException when liblxc returns NULL
     */
    public Container open(String name, String lxcpath) {
        Pointer p = (Pointer) containerNew.invoke(Pointer.class, new Object[] {name, lxcpath});
        if (p == null) {
            throw new IllegalStateException("lxc_container_new(" + name + ") failed");
        }
        return new Container(p);
    }

    /** A reference on one {@code struct lxc_container}. Not thread-safe; open one per use. */
    public final class Container implements AutoCloseable {
        private Pointer c;

        private Container(Pointer c) {
            this.c = c;
        }

        private Pointer ptr() {
            if (c == null) {
                throw new IllegalStateException("container handle closed");
            }
            return c;
        }

        private Function fn(int offset) {
            Pointer f = ptr().getPointer(offset);
            if (f == null) {
                throw new IllegalStateException("liblxc function pointer at " + offset + " is NULL");
            }
            return Function.getFunction(f);
        }

        /* C bool is one byte: only the low byte of the return register is defined. */
        private boolean bool(int offset, Object... args) {
            Object[] all = new Object[args.length + 1];
            all[0] = ptr();
            System.arraycopy(args, 0, all, 1, args.length);
            Byte b = (Byte) fn(offset).invoke(Byte.class, all);
            return b != null && b != 0;
        }

        public boolean isDefined() {
            return bool(LxcLayout.IS_DEFINED);
        }

        public boolean isRunning() {
            return bool(LxcLayout.IS_RUNNING);
        }

        /** @return STOPPED, STARTING, RUNNING, STOPPING, ABORTING, FREEZING, FROZEN or THAWED */
        public String state() {
            String s = (String) fn(LxcLayout.STATE).invoke(String.class, new Object[] {ptr()});
            return s == null ? "STOPPED" : s;
        }

        /** @return host pid of init, or -1 when not running */
        public int initPid() {
            return (Integer) fn(LxcLayout.INIT_PID).invoke(Integer.class, new Object[] {ptr()});
        }

        /** Sends SIGKILL to init through the monitor; returns before the container is STOPPED. */
        public boolean stop() {
            return bool(LxcLayout.STOP);
        }

        /** Removes the container's directory and rootfs; it must be stopped. */
        public boolean destroy() {
            return bool(LxcLayout.DESTROY);
        }

        public boolean loadConfig(String file) {
            return bool(LxcLayout.LOAD_CONFIG, file);
        }

        public boolean setConfigItem(String key, String value) {
            return bool(LxcLayout.SET_CONFIG_ITEM, key, value);
        }

        /** @return the item's value, or null when unset or unknown */
        public String getConfigItem(String key) {
            return readInto(LxcLayout.GET_CONFIG_ITEM, key);
        }

        /** @return the cgroup file's content (trimmed), or null when it cannot be read */
        public String getCgroupItem(String subsys) {
            return readInto(LxcLayout.GET_CGROUP_ITEM, subsys);
        }

        public boolean setCgroupItem(String subsys, String value) {
            return bool(LxcLayout.SET_CGROUP_ITEM, subsys, value);
        }

        /* Both getters follow snprintf style: NULL buffer asks for the length, then a second call fills it. */
        private String readInto(int offset, String key) {
            Function f = fn(offset);
            int len = (Integer) f.invoke(Integer.class, new Object[] {ptr(), key, null, 0});
            if (len < 0) {
                return null;
            }
            if (len == 0) {
                return "";
            }
            // Counters such as cpuacct.usage can grow between the two calls: leave room.
            int size = len + 64;
            Memory buf = new Memory(size);
            buf.clear();
            int n = (Integer) f.invoke(Integer.class, new Object[] {ptr(), key, buf, size});
            if (n < 0) {
                return null;
            }
            return buf.getString(0).trim();
        }

        /** @return liblxc's last error string, usually null */
        public String errorString() {
            Pointer s = ptr().getPointer(LxcLayout.ERROR_STRING);
            return s == null ? null : s.getString(0);
        }

        public String configPath() {
            Pointer s = ptr().getPointer(LxcLayout.CONFIG_PATH);
            return s == null ? null : s.getString(0);
        }

        public String name() {
            Pointer s = ptr().getPointer(LxcLayout.NAME);
            return s == null ? null : s.getString(0);
        }

        @Override
        public void close() {
            Pointer p = c;
            c = null;
            if (p != null) {
                containerPut.invoke(Integer.class, new Object[] {p});
            }
        }
    }

    @Override
    public String toString() {
        return "liblxc " + version + " (" + Objects.toString(lib.getFile()) + ")";
    }
}
