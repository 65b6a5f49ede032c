package io.tern.log;

import org.slf4j.MDC;

/**
 * The logging context every line of Tern carries: the resource (and, where one is concerned,
 * the peer) a thread works for, in SLF4J's MDC under {@link #RESOURCE} and {@link #PEER}. The
 * node's log pattern prints them; a JSON encoder would give them as fields.
 */
public final class Mdc {
    public static final String RESOURCE = "resource";
    public static final String PEER = "peer";

    private Mdc() {
    }

    /** {@code task}, run with {@code resource} in the context of whichever thread runs it. */
    public static Runnable resource(String resource, Runnable task) {
        return () -> {
            MDC.put(RESOURCE, resource);
            try {
                task.run();
            } finally {
                MDC.remove(RESOURCE);
            }
        };
    }

    /** Puts the resource (and the peer, unless null) into this thread's context until closed. */
    public static Scope scope(String resource, String peer) {
        String oldResource = MDC.get(RESOURCE);
        String oldPeer = MDC.get(PEER);
        put(RESOURCE, resource);
        put(PEER, peer);
        return () -> {
            put(RESOURCE, oldResource);
            put(PEER, oldPeer);
        };
    }

    private static void put(String key, String value) {
        if (value == null) {
            MDC.remove(key);
        } else {
            MDC.put(key, value);
        }
    }

    /** A context that {@link #scope} opened; closing it restores the one before. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
