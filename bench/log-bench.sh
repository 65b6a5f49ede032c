#!/usr/bin/env bash
# Transaction log benchmark: Tern's durable appends vs. plain FileChannel + force per batch, in
# one process, on the disk under bench/target. Prints a Markdown table for docs/BENCHMARKS.md.
# Usage: bench/log-bench.sh [seconds-per-run] [warmup-seconds] [writers,...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mvn -B -q -DskipTests -pl test-suite -am package >&2
read -r -a flags < cli/target/classes/tern-jvm.flags
exec java "${flags[@]}" ${BENCH_JAVA_OPTS:-} -Xmx2g -cp "test-suite/target/classes:test-suite/target/lib/*" io.tern.bench.LogBench \
  "$root/bench/target" "${1:-5}" "${2:-2}" "${3:-1,16,64,256}"
