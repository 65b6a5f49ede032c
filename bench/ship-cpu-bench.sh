#!/usr/bin/env bash
# Primary CPU per replicated MiB, with and without sendfile: a primary node (pinned to CPU 0)
# takes fio's 1 MiB sequential writes over NBD while a secondary (pinned to CPU 1, its files on
# tmpfs: standing in for its own machine) follows its log. Three phases in one run: no secondary,
# a secondary fed with sendfile (RECORD_STREAM, the default), and one fed by reading and copying
# records (-Dtern.replication.sendfile=false). The primary's CPU comes from /proc/<pid>/stat.
# Prints a Markdown table for docs/BENCHMARKS.md.
# Usage: bench/ship-cpu-bench.sh [MiB-per-phase] [device-size]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mib="${1:-2048}"
size="${2:-1G}"
work="$root/bench/target/ship-cpu"
tmpfs="$work/sec-tmpfs"
"$root/scripts/install-deps" java maven nbd >&2
"$root/tern" --help >/dev/null # builds the launcher's jar once, outside the measured phases
cleanup() {
  [ -n "${prim_pid:-}" ] && kill "$prim_pid" 2>/dev/null || true
  [ -n "${sec_pid:-}" ] && kill "$sec_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  mountpoint -q "$tmpfs" && umount "$tmpfs" || true
}
trap cleanup EXIT
rm -rf "$work"; mkdir -p "$work" "$tmpfs"
mount -t tmpfs -o size=6g tmpfs "$tmpfs"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_ready() { for _ in $(seq 1 300); do grep -q READY "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

phase() { # name, sendfile (true|false|none)
  local name="$1" sendfile="$2" home="$work/prim-$1" listen
  listen=$(free_port)
  "$root/tern" init --home "$home" --node a --nbd 127.0.0.1:0 --http 127.0.0.1:0 --listen "127.0.0.1:$listen" --transport plain >&2
  "$root/tern" create r0 --size "$size" --home "$home" >&2
  TERN_JAVA_OPTS="-Xmx256m -Dtern.replication.sendfile=${sendfile/none/true}" \
    taskset -c 0 "$root/tern" run --home "$home" > "$home.out" 2> "$home.err" &
  prim_pid=$!
  wait_ready "$home.out" || { echo "primary did not start; see $home.err" >&2; exit 1; }
  local uri="nbd://$(sed -n 's/.*nbd=\([^ ]*\).*/\1/p' "$home.out")/r0"
  sec_pid=""
  if [ "$sendfile" != none ]; then
    local sec="$tmpfs/sec-$name"
    "$root/tern" init --home "$sec" --node b --nbd 127.0.0.1:0 --http 127.0.0.1:0 --listen 127.0.0.1:0 --transport plain >&2
    "$root/tern" join r0 --peer "127.0.0.1:$listen" --home "$sec" >&2
    TERN_JAVA_OPTS="-Xmx256m" taskset -c 1 "$root/tern" run --home "$sec" > "$sec.out" 2> "$sec.err" &
    sec_pid=$!
    for _ in $(seq 1 600); do
      "$root/tern" status r0 --json --home "$sec" 2>/dev/null | grep -q '"phase": "done"' && break; sleep 0.5
    done
  fi
  local before after
  before=$(cpu_ticks "$prim_pid")
  taskset -c 1 fio --name=seq --ioengine=nbd --uri="$uri" --rw=write --bs=1m --iodepth=8 --size="$size" \
    --io_size="${mib}m" --output="$work/$name-fio.txt" >/dev/null
  if [ -n "$sec_pid" ]; then # the phase ends when the secondary has every record
    local logged
    logged=$("$root/tern" status r0 --json --home "$home" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resources"][0]["logged_lsn"])')
    for _ in $(seq 1 600); do
      "$root/tern" status r0 --json --home "$home" | python3 -c "import json,sys; p=json.load(sys.stdin)['resources'][0]['peers'][0]; sys.exit(0 if p['received_lsn'] >= $logged else 1)" && break
      sleep 0.2
    done
  fi
  after=$(cpu_ticks "$prim_pid")
  local hz; hz=$(getconf CLK_TCK)
  python3 -c "print('| $name | $mib | %.2f | %.1f |' % (($after - $before) / $hz, ($after - $before) / $hz * 1000 / $mib))"
  kill "$prim_pid" $sec_pid 2>/dev/null || true
  wait "$prim_pid" 2>/dev/null || true
  [ -n "$sec_pid" ] && { wait "$sec_pid" 2>/dev/null || true; }
  prim_pid=""; sec_pid=""
}

echo "| phase | MiB written | primary CPU (s) | primary CPU per MiB (ms) |"
echo "|---|---:|---:|---:|"
phase no-secondary none
phase sendfile true
phase copy false
