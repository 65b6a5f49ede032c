/**
 * The durable transaction log of one resource.
 *
 * <p>{@link io.tern.log.TransactionLog} is the entry point: many threads append records, one
 * appender thread writes them to a Chronicle Queue and syncs once per batch (group commit), and an
 * append completes only after the sync that covers it has returned. {@link io.tern.log.LogReader}s
 * start at any LSN and follow the durable tail. On open the log is recovered: every record from a
 * caller-given LSN is verified, and a torn or corrupt tail is cut (see {@link io.tern.log.CutList}).
 */
package io.tern.log;
