/**
 * The durable transaction log of one resource.
 *
 * <p>{@link io.tern.log.TransactionLog} is the entry point: many threads append records, one
 * appender thread writes them with gathering positional writes into segment files prepared ahead
 * and fdatasyncs once per batch (group commit); an append completes only after the sync that
 * covers it has returned. {@link io.tern.log.LogReader}s start at any LSN and follow the durable
 * tail. On open the log is recovered: every record from a caller-given LSN is verified, what is
 * accepted is synced, a torn tail is zeroed, and damage to acknowledged records fails the open
 * (see {@code LogRecovery}).
 */
package io.tern.log;
