#!/usr/bin/env bash
# What a short command costs to start: `tern status` against a running node and `tern init` of a
# fresh home, run in alternating rounds with the daemon's JVM flags only and with the command flags
# the launcher adds (cli/target/classes/tern-command-jvm.flags). Prints Markdown for
# docs/BENCHMARKS.md: mean wall time and CPU time (user + system) per command.
# Usage: bench/command-bench.sh [rounds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps" java maven >&2
[ -x /usr/bin/time ] || apt-get install -y -q time >&2
mvn -B -q -DskipTests -pl cli -am package >&2
rounds="${1:-10}"
read -r -a flags < cli/target/classes/tern-jvm.flags
read -r -a command_flags < cli/target/classes/tern-command-jvm.flags
cp="cli/target/tern-cli.jar:cli/target/lib/*"
work="$root/bench/target/command"
rm -rf "$work"
mkdir -p "$work"

java "${flags[@]}" -cp "$cp" io.tern.cli.Main init --home "$work/node" --node a --listen 127.0.0.1:0 \
  --nbd 127.0.0.1:0 --http 127.0.0.1:0 --transport plain >/dev/null
java "${flags[@]}" -cp "$cp" io.tern.cli.Main run --home "$work/node" >"$work/node.out" 2>"$work/node.err" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q '^READY ' "$work/node.out" && break
  sleep 0.1
done
grep -q '^READY ' "$work/node.out" || { echo "the node did not start; see $work/node.err" >&2; exit 1; }

# one timed run: appends "wall cpu" (seconds) to the file $1; the rest is the command line
timed() {
  local out="$1"
  shift
  /usr/bin/time -a -o "$out" -f '%e %U %S' "$@" >/dev/null
}

for round in $(seq 1 "$rounds"); do
  for variant in full command; do
    extra=()
    [ "$variant" = command ] && extra=("${command_flags[@]}")
    timed "$work/status-$variant" java "${flags[@]}" "${extra[@]}" -cp "$cp" io.tern.cli.Main status \
      --home "$work/node"
    rm -rf "$work/init-home"
    timed "$work/init-$variant" java "${flags[@]}" "${extra[@]}" -cp "$cp" io.tern.cli.Main init \
      --home "$work/init-home" --node b --transport plain
  done
done

mean() { awk '{w += $1; c += $2 + $3} END {printf "%.2f s | %.2f s", w / NR, c / NR}' "$1"; }
echo "| command | JVM flags | wall (mean of $rounds) | CPU (mean of $rounds) |"
echo "|---|---|---|---|"
for cmd in status init; do
  echo "| \`tern $cmd\` | the daemon's only | $(mean "$work/$cmd-full") |"
  echo "| \`tern $cmd\` | + \`${command_flags[*]}\` | $(mean "$work/$cmd-command") |"
done
