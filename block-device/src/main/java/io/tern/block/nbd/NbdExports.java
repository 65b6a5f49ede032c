package io.tern.block.nbd;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;

/** The exports a server offers, by name. Thread-safe: exports come and go while serving. */
public final class NbdExports {
    private final ConcurrentSkipListMap<String, NbdExport> byName = new ConcurrentSkipListMap<>();

    public void add(NbdExport export) {
        if (byName.putIfAbsent(export.name(), export) != null) {
            throw new IllegalArgumentException("export '" + export.name() + "' exists already");
        }
    }

    public void remove(String name) {
        byName.remove(name);
    }

    /** The export of that name, or {@code null}. */
    public NbdExport find(String name) {
        return byName.get(name);
    }

    public Collection<NbdExport> all() {
        return List.copyOf(byName.values());
    }
}
