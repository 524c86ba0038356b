package berth.driver.api;

/** Glance's disk_format values Berth understands. */
public enum DiskFormat {
    RAW("raw"), ROOT_TAR("root-tar");

    private final String wire;

    DiskFormat(String wire) {
        this.wire = wire;
    }

    /** @return the value Glance uses */
    public String wireName() {
        return wire;
    }

    /**
     * @param s Glance's value
     * @return the matching format
     * @throws InvalidInputException for a format Berth cannot boot
     */
    public static DiskFormat of(String s) {
        for (DiskFormat f : values()) {
            if (f.wire.equals(s)) {
                return f;
            }
        }
        throw new InvalidInputException("unsupported disk format '" + s + "' (use raw or root-tar)");
    }
}
