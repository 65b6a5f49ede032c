#!/usr/bin/env bash
# What TLS costs the log stream: a secondary pulls a primary's whole log over loopback, plain TCP
# and mutual TLS 1.3 in alternating rounds, in one process. Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/tls-bench.sh [MiB-of-log] [rounds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps" java maven >&2
mvn -B -q -DskipTests -pl test-suite -am package >&2
read -r -a flags < cli/target/classes/tern-jvm.flags
exec java "${flags[@]}" ${BENCH_JAVA_OPTS:-} -Xmx2g -cp "test-suite/target/classes:test-suite/target/lib/*" \
  io.tern.bench.TlsStreamBench "$root/bench/target/tls" "${1:-512}" "${2:-2}"
