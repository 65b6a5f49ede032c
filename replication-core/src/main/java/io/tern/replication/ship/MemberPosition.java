package io.tern.replication.ship;

/** What a secondary last acknowledged: records durable in its log, and records replayed onto its device. */
public record MemberPosition(String node, long receivedLsn, long replayedLsn, boolean connected) {
}
