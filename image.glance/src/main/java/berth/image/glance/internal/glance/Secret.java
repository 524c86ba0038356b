package berth.image.glance.internal.glance;

import java.util.Objects;

/**
 * A password or token. It prints as {@code ****} everywhere (toString, records holding it, exception messages
 * built from it), so a secret can reach only the one place that calls {@link #reveal()}: the request header or
 * body that carries it.
 */
final class Secret {
    static final Secret NONE = new Secret("");

    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    static Secret of(String value) {
        return value == null || value.isEmpty() ? NONE : new Secret(value);
    }

    String reveal() {
        return value;
    }

    boolean isEmpty() {
        return value.isEmpty();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Secret s && Objects.equals(value, s.value);
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public String toString() {
        return value.isEmpty() ? "" : "****";
    }
}
