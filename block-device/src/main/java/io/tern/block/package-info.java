/**
 * Block devices: the small {@link io.tern.block.BlockDevice} contract, the file backend
 * ({@code io.tern.block.file}), the logged device that writes through the transaction log
 * ({@code io.tern.block.logged}) and the NBD server ({@code io.tern.block.nbd}).
 */
package io.tern.block;
