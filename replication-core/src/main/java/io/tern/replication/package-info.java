/**
 * Replication: the node, resources, the links store, the replication protocol, log shipping,
 * ordered replay, full sync, roles, epochs and split-brain detection.
 */
package io.tern.replication;
