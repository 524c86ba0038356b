package berth.driver.api;

import java.util.Locale;

/** Glance's container_format values Berth understands. */
public enum ContainerFormat {
    /** A {@code docker save} archive. */
    DOCKER,
    /** A plain root filesystem tarball (nova-lxd's choice). */
    BARE;

    /** @return the value Glance uses */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @param s Glance's value
     * @return the matching format
     * @throws InvalidInputException for a format Berth cannot boot
     */
    public static ContainerFormat of(String s) {
        for (ContainerFormat f : values()) {
            if (f.wireName().equals(s)) {
                return f;
            }
        }
        throw new InvalidInputException("unsupported container format '" + s + "' (use docker or bare)");
    }
}
