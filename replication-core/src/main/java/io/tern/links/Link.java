package io.tern.links;

import java.util.Objects;

/**
 * One link: a name, a value, the Lamport time it was written at and the node that wrote it. A
 * deleted link is kept as a tombstone so that the deletion wins over older values elsewhere.
 *
 * <p>On disk a link is a symlink whose target is {@code value@lamport.node}, or
 * {@code (deleted)@lamport.node} for a tombstone — readable with {@code ls -l}.
 */
public record Link(String name, String value, long lamport, String node, boolean deleted) {
    static final String DELETED = "(deleted)";

    public Link {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(node, "node");
        value = deleted ? DELETED : Objects.requireNonNull(value, "value");
        if (lamport < 1) {
            throw new IllegalArgumentException("lamport time must be >= 1, was " + lamport);
        }
    }

    /** Whether this link should replace {@code other} of the same name: newer wins, ties go to the larger node name. */
    public boolean supersedes(Link other) {
        if (other == null) {
            return true;
        }
        if (lamport != other.lamport) {
            return lamport > other.lamport;
        }
        int byNode = node.compareTo(other.node);
        if (byNode != 0) {
            return byNode > 0;
        }
        return !value.equals(other.value) && value.compareTo(other.value) > 0;
    }

    /** The symlink target that stores this link. */
    String target() {
        return value + "@" + lamport + "." + node;
    }

    /** Parses a symlink target written by {@link #target()}. */
    static Link parse(String name, String target) {
        int at = target.lastIndexOf('@');
        int dot = at < 0 ? -1 : target.indexOf('.', at);
        if (at < 0 || dot < 0) {
            throw new IllegalArgumentException("link " + name + " -> " + target + " is not value@lamport.node");
        }
        String value = target.substring(0, at);
        long lamport = Long.parseLong(target.substring(at + 1, dot));
        String node = target.substring(dot + 1);
        boolean deleted = value.equals(DELETED);
        return new Link(name, deleted ? null : value, lamport, node, deleted);
    }
}
