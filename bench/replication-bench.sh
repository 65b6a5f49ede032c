#!/usr/bin/env bash
# Replication benchmarks on the disk under bench/target: async isolation (the primary's write
# rate with a secondary behind an emulated 10 Mbit/s, 50 ms link vs none; that secondary and its
# proxy run in a JVM of their own under nice 19) and replication lag at half the maximum rate (a
# secondary in the primary's process, on loopback). Prints Markdown for docs/BENCHMARKS.md.
# BENCH_JAVA_OPTS passes JVM properties: -Dbench.rounds=N isolation rounds (default 4; 0: only
# the lag), -Dbench.secondaryDir=DIR the secondaries' files (e.g. on tmpfs),
# -Dbench.checkpointMillis=MS the primary's checkpoint interval.
# Usage: bench/replication-bench.sh [seconds-per-phase]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps" java maven >&2
mvn -B -q -DskipTests -pl test-suite -am package >&2
read -r -a flags < cli/target/classes/tern-jvm.flags
exec java "${flags[@]}" ${BENCH_JAVA_OPTS:-} -Xmx2g -cp "test-suite/target/classes:test-suite/target/lib/*" \
  io.tern.bench.ReplicationBench "$root/bench/target/replication" "${1:-10}"
