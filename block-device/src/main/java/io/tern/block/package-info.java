/**
 * The block-device facade: the {@code BlockDevice} API, file and raw backends, the logged device
 * that writes through the transaction log, and the NBD server. Built on {@code io.tern.log}.
 */
package io.tern.block;
