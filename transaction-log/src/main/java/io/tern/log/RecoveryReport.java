package io.tern.log;

/**
 * What recovery found when a log was opened.
 *
 * @param fromLsn        first LSN verified
 * @param lastLsn        last good LSN (0 if the log is empty); appends continue after it
 * @param verified       records verified
 * @param cut            whether a torn or corrupt tail was cut
 * @param cutRecords     intact records of the torn last batch found past the cut and discarded
 * @param cutBytes       bytes zeroed or deleted by the cut
 * @param reason         why the first discarded record was bad, or {@code null}
 */
public record RecoveryReport(long fromLsn, long lastLsn, long verified, boolean cut, long cutRecords, long cutBytes,
                             String reason) {
    @Override
    public String toString() {
        return cut
                ? String.format("recovered lsn %d..%d (%d verified); cut %d records (%d bytes) after lsn %d: %s",
                fromLsn, lastLsn, verified, cutRecords, cutBytes, lastLsn, reason)
                : String.format("recovered lsn %d..%d (%d verified), no cut", fromLsn, lastLsn, verified);
    }
}
