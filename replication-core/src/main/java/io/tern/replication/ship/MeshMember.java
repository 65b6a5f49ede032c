package io.tern.replication.ship;

import io.tern.links.LinkStore;
import io.tern.replication.protocol.Messages;

/**
 * One resource on this node as its mesh sessions see it ({@link MeshSession}): whatever its
 * role, it exchanges links and states with every other member, and takes part in handovers.
 * Its methods are called on the sessions' event loops and must not block, except
 * {@link #handOver}, which runs on a thread of its own.
 */
public interface MeshMember {
    /** This node's name. */
    String node();

    /** This resource's links on this node. */
    LinkStore links();

    /** This node's state for the resource now. */
    Messages.State state();

    /** A session with {@code peer} opened ({@code session}) or closed ({@code null}). */
    void session(String peer, MeshSession session, boolean open);

    /** {@code peer} said what its state is. */
    void peerState(String peer, Messages.State state);

    /**
     * {@code peer} asks this node, its primary, to hand the resource over: stop taking writes and
     * say where the log ends. Runs on a thread that may wait.
     *
     * @return the last LSN of this node's log, which will not grow until the handover ends
     * @throws IllegalStateException with the reason, to refuse
     */
    long handOver(String peer) throws InterruptedException;

    /** The answer of {@code peer} to a handover this node asked for. */
    void handoverAnswer(String peer, Messages.Handover answer);
}
