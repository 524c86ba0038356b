package berth.runtime.internal.shell;

import java.util.AbstractList;
import java.util.List;

/**
 * A list that knows its element type, so the shell can print a table with headings even when it is empty.
 * Scripts see an ordinary list.
 *
 * @param <T> element type
 */
public final class Listed<T> extends AbstractList<T> {
    private final Class<T> type;
    private final List<T> items;

    private Listed(Class<T> type, List<T> items) {
        this.type = type;
        this.items = List.copyOf(items);
    }

    public static <T> Listed<T> of(Class<T> type, List<? extends T> items) {
        return new Listed<>(type, List.copyOf(items));
    }

    public Class<T> type() {
        return type;
    }

    @Override
    public T get(int index) {
        return items.get(index);
    }

    @Override
    public int size() {
        return items.size();
    }
}
