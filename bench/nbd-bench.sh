#!/usr/bin/env bash
# NBD benchmark: fio's nbd engine against a Tern node (sync mode: every write durable before its
# reply), against nbdkit's file plugin, and against nbdkit with --filter=fua fuamode=force (every
# write durable before its reply, as Tern's sync mode), on the same disk, in the same run. Prints a
# Markdown table of IOPS, bandwidth and ratios, and the Tern daemon's peak heap.
# With "secondary" as the fourth argument, a second node joins the resource on the same machine
# first and replicates throughout (its full sync completes before the jobs start).
# With BENCH_PIN=1 the Tern primary runs on CPU 0 and everything else (fio, nbdkit, the secondary,
# whose files then live on a tmpfs standing in for its own machine) on CPU 1, in both phases of a
# comparison.
# Usage: [BENCH_PIN=1] bench/nbd-bench.sh [seconds-per-job] [device-size] [sync|flush] [secondary]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-20}"
size="${2:-1G}"
durability="${3:-sync}"
secondary="${4:-}"
work="$root/bench/target/nbd"
"$root/scripts/install-deps" java maven nbd >&2
mountpoint -q "$work/sec-fs" 2>/dev/null && umount "$work/sec-fs"
rm -rf "$work"; mkdir -p "$work"
sec_home="$work/sec"

pin_primary=(); pin_other=()
if [ "${BENCH_PIN:-}" = 1 ]; then
  pin_primary=(taskset -c 0); pin_other=(taskset -c 1)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Tern: one node, one resource (durability sync or flush), daemon heap capped at 256 MiB.
listen_port=$(free_port)
"$root/tern" init --home "$work/node" --node bench --nbd 127.0.0.1:0 --http 127.0.0.1:0 --listen "127.0.0.1:$listen_port" --transport plain >&2
"$root/tern" create r0 --size "$size" --durability "$durability" --home "$work/node" >&2
TERN_JAVA_OPTS="-Xmx256m -Xlog:gc*:file=$work/tern-gc.log" "${pin_primary[@]}" "$root/tern" run --home "$work/node" > "$work/tern.out" 2> "$work/tern.err" &
tern_pid=$!
for _ in $(seq 1 300); do grep -q READY "$work/tern.out" 2>/dev/null && break; sleep 0.2; done
grep -q READY "$work/tern.out" || { echo "tern did not start; see $work/tern.err" >&2; exit 1; }
tern_uri="nbd://$(sed -n 's/.*nbd=\([^ ]*\).*/\1/p' "$work/tern.out")/r0"
sec_pid=""
if [ "$secondary" = secondary ]; then
  if [ "${BENCH_PIN:-}" = 1 ]; then # the secondary's files on tmpfs: its own machine's disk
    mkdir -p "$work/sec-fs"; mount -t tmpfs -o size=$(( $(numfmt --from=iec "$size") * 3 + (1 << 30) )) tmpfs "$work/sec-fs"
    sec_home="$work/sec-fs/sec"
  fi
  "$root/tern" init --home "$sec_home" --node sec --nbd 127.0.0.1:0 --http 127.0.0.1:0 --listen 127.0.0.1:0 --transport plain >&2
  "$root/tern" join r0 --peer "127.0.0.1:$listen_port" --home "$sec_home" >&2
  TERN_JAVA_OPTS="-Xmx256m" "${pin_other[@]}" "$root/tern" run --home "$sec_home" > "$work/sec.out" 2> "$work/sec.err" &
  sec_pid=$!
  for _ in $(seq 1 600); do
    "$root/tern" status r0 --json --home "$sec_home" 2>/dev/null | grep -q '"phase": "done"' && break; sleep 0.5
  done
  "$root/tern" status r0 --json --home "$sec_home" | grep -q '"phase": "done"' || { echo "the secondary did not sync; see $work/sec.err" >&2; exit 1; }
fi

# nbdkit: the file plugin on a file of the same size, on the same disk.
truncate -s "$size" "$work/nbdkit.img"
dd if=/dev/zero of="$work/nbdkit.img" bs=1M count="$(( $(stat -c %s "$work/nbdkit.img") >> 20 ))" conv=notrunc,fdatasync status=none
nbd_port=$(free_port)
"${pin_other[@]}" nbdkit --exit-with-parent -f -i 127.0.0.1 -p "$nbd_port" file "$work/nbdkit.img" 2> "$work/nbdkit.err" &
nbdkit_pid=$!
for _ in $(seq 1 100); do nbdinfo --size "nbd://127.0.0.1:$nbd_port" >/dev/null 2>&1 && break; sleep 0.1; done
nbdkit_uri="nbd://127.0.0.1:$nbd_port"
# nbdkit again, durable per write: the fua filter forces FUA on every write.
truncate -s "$size" "$work/nbdkit-fua.img"
dd if=/dev/zero of="$work/nbdkit-fua.img" bs=1M count="$(( $(stat -c %s "$work/nbdkit-fua.img") >> 20 ))" conv=notrunc,fdatasync status=none
fua_port=$(free_port)
"${pin_other[@]}" nbdkit --exit-with-parent -f -i 127.0.0.1 -p "$fua_port" --filter=fua file "$work/nbdkit-fua.img" fuamode=force 2> "$work/nbdkit-fua.err" &
fua_pid=$!
for _ in $(seq 1 100); do nbdinfo --size "nbd://127.0.0.1:$fua_port" >/dev/null 2>&1 && break; sleep 0.1; done
fua_uri="nbd://127.0.0.1:$fua_port"

cleanup() {
  kill "$tern_pid" "$nbdkit_pid" "$fua_pid" $sec_pid 2>/dev/null || true; wait 2>/dev/null || true
  mountpoint -q "$work/sec-fs" 2>/dev/null && umount "$work/sec-fs" || true
}
trap cleanup EXIT

jobs=(
  "randwrite-4k-qd32|--rw=randwrite --bs=4k --iodepth=32"
  "randwrite-4k-qd1-flush|--rw=randwrite --bs=4k --iodepth=1 --fsync=1"
  "write-1m-qd8|--rw=write --bs=1m --iodepth=8"
  "randread-4k-qd32|--rw=randread --bs=4k --iodepth=32"
)
run_fio() { # name uri args
  "${pin_other[@]}" fio --name="$1" --ioengine=nbd --uri="$2" $3 --size="$size" --runtime="$secs" --time_based \
      --randrepeat=0 --output-format=json --output="$work/$1-$4.json" >/dev/null
}
# Fill both devices first so reads read written data.
fio --name=fill --ioengine=nbd --uri="$tern_uri" --rw=write --bs=1m --iodepth=8 --size="$size" --output="$work/fill-tern.txt" >/dev/null
fio --name=fill --ioengine=nbd --uri="$nbdkit_uri" --rw=write --bs=1m --iodepth=8 --size="$size" --output="$work/fill-nbdkit.txt" >/dev/null
fio --name=fill --ioengine=nbd --uri="$fua_uri" --rw=write --bs=1m --iodepth=8 --size="$size" --output="$work/fill-fua.txt" >/dev/null
for j in "${jobs[@]}"; do
  name="${j%%|*}"; args="${j#*|}"
  run_fio "$name" "$tern_uri" "$args" tern
  run_fio "$name" "$nbdkit_uri" "$args" nbdkit
  run_fio "$name" "$fua_uri" "$args" fua
done

python3 - "$work" "${jobs[@]%%|*}" <<'PY'
import json, re, sys
work, names = sys.argv[1], sys.argv[2:]
def stats(path):
    j = json.load(open(path))["jobs"][0]
    side = j["write"] if j["write"]["io_bytes"] > 0 else j["read"]
    return side["iops"], side["bw_bytes"] / 2**20, side["clat_ns"]["percentile"].get("99.000000", 0) / 1e3
print("| fio job | Tern IOPS | Tern MiB/s | Tern p99 (µs) | nbdkit IOPS | nbdkit MiB/s | nbdkit p99 (µs) | Tern / nbdkit | nbdkit+fua IOPS | Tern / nbdkit+fua |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    t, k, f = stats(f"{work}/{n}-tern.json"), stats(f"{work}/{n}-nbdkit.json"), stats(f"{work}/{n}-fua.json")
    print(f"| {n} | {t[0]:,.0f} | {t[1]:.1f} | {t[2]:,.0f} | {k[0]:,.0f} | {k[1]:.1f} | {k[2]:,.0f} | **{t[0]/k[0]:.2f}×** "
          f"| {f[0]:,.0f} | **{t[0]/f[0]:.2f}×** |")
peak = 0.0
for line in open(f"{work}/tern-gc.log"):
    m = re.search(r"(\d+)M->(\d+)M\((\d+)M\)", line)
    if m:
        peak = max(peak, float(m.group(1)))
print(f"\nTern daemon: -Xmx256m, peak heap in use before a collection {peak:.0f} MiB (from its GC log).")
PY
if [ -n "$sec_pid" ]; then
  "$root/tern" status r0 --home "$sec_home"
fi
