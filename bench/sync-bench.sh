#!/usr/bin/env bash
# Fast full sync benchmark: a 1 GiB image whose secondary copy differs in 1% of its 4 KiB
# blocks (random, seeded). Tern: a primary daemon serving the image as two resources, r0 and r1,
# and a secondary daemon that joins r0 and then r1, each with its own copy of the stale image as
# --data (fast mode: block digests, only differing blocks move). The first sync runs in daemons
# that have never synced (its code is not compiled yet); the second in the same daemons, as a
# long-running node's next sync would. Each is timed in the secondary's log from "full sync of"
# to "full sync complete".
# Baseline, same run, same disk: rsync --inplace --no-whole-file --ignore-times between the same
# two files. The page cache is dropped before each (WARM=1: kept, everything is read from memory).
# SYNC_DIGEST=sha256 joins with --sync-digest sha256 (default: xxh128).
# Usage: bench/sync-bench.sh [size-MiB] [percent-changed]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mib="${1:-1024}"
pct="${2:-1}"
work="$root/bench/target/sync"
"$root/scripts/install-deps" java maven nbd >&2
command -v rsync >/dev/null || apt-get install -y -q rsync >&2
rm -rf "$work"; mkdir -p "$work"
"$root/tern" --version >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
drop_caches() { sync; [ -n "${WARM:-}" ] || echo 3 > /proc/sys/vm/drop_caches; }

# The images: random base; the stale copy differs in pct% of its 4 KiB blocks (the same blocks,
# the same bytes, for Tern and for rsync).
python3 - "$work" "$mib" "$pct" <<'PY'
import random, sys
work, mib, pct = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(20261121)
with open(f"{work}/base.img", "wb") as base, open(f"{work}/stale-r0.img", "wb") as stale:
    for _ in range(mib):
        b = rnd.randbytes(1 << 20)
        base.write(b)
        stale.write(b)
blocks = (mib << 20) // 4096
changed = rnd.sample(range(blocks), int(blocks * pct / 100))
with open(f"{work}/stale-r0.img", "r+b") as f:
    for b in changed:
        f.seek(b * 4096)
        f.write(rnd.randbytes(4096))
print(f"{len(changed)} of {blocks} blocks changed", file=sys.stderr)
PY
cp --sparse=never "$work/stale-r0.img" "$work/stale-r1.img"
cp --sparse=never "$work/stale-r0.img" "$work/stale-rsync.img"

# Primary: a node whose resources r0 and r1 hold base.img (written through NBD, not timed).
aport=$(free_port)
"$root/tern" init --home "$work/a" --node a --listen "127.0.0.1:$aport" --nbd 127.0.0.1:0 --http 127.0.0.1:0 >&2
"$root/tern" create r0 --size "${mib}M" --home "$work/a" >&2
"$root/tern" create r1 --size "${mib}M" --home "$work/a" >&2
"$root/tern" run --home "$work/a" > "$work/a.out" 2> "$work/a.err" &
a_pid=$!
"$root/tern" init --home "$work/b" --node b --nbd 127.0.0.1:0 --http 127.0.0.1:0 --listen 127.0.0.1:0 >&2
"$root/tern" run --home "$work/b" > "$work/b.out" 2> "$work/b.err" &
b_pid=$!
cleanup() { kill "$a_pid" "$b_pid" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
for f in a b; do
  for _ in $(seq 1 300); do grep -q READY "$work/$f.out" 2>/dev/null && break; sleep 0.2; done
  grep -q READY "$work/$f.out" || { echo "node $f did not start; see $work/$f.err" >&2; exit 1; }
done
a_nbd=$(sed -n 's/.*nbd=\([^ ]*\).*/\1/p' "$work/a.out")
b_http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' "$work/b.out")
nbdcopy "$work/base.img" "nbd://$a_nbd/r0"
nbdcopy "$work/base.img" "nbd://$a_nbd/r1"

# (grep, not a Python per poll: the poll must not take the CPU the sync runs on)
phase() { curl -s "http://$b_http/status/$1" | grep -o '"phase": "[a-z]*"' | cut -d'"' -f4; }

declare -A t_start t_end
for res in r0 r1; do
  drop_caches
  t_start[$res]=$(now)
  "$root/tern" join "$res" --peer "127.0.0.1:$aport" --data "$work/stale-$res.img" \
      --sync-digest "${SYNC_DIGEST:-xxh128}" --home "$work/b" >&2
  while [ "$(phase "$res")" != done ]; do sleep 0.1; done
  t_end[$res]=$(now)
  cmp "$work/base.img" "$work/stale-$res.img" || { echo "Tern's copy of $res differs from base.img" >&2; exit 1; }
done

drop_caches
r0=$(now)
rsync --inplace --no-whole-file --ignore-times --stats "$work/base.img" "$work/stale-rsync.img" > "$work/rsync.txt"
r1=$(now)
cmp "$work/base.img" "$work/stale-rsync.img" || { echo "rsync's copy differs from base.img" >&2; exit 1; }

python3 - "$mib" "$pct" "${WARM:+warm}" "${t_start[r0]}" "${t_end[r0]}" "$r0" "$r1" "$work/b.err" "$work/rsync.txt" <<'PY'
import re, sys
mib, pct, warm = sys.argv[1], sys.argv[2], sys.argv[3]
t0, t0_end, r0, r1 = map(float, sys.argv[4:8])
tern_log, rsync = open(sys.argv[8]).read(), open(sys.argv[9]).read()
def stamp(res, pattern):
    m = re.search(r"(\d\d):(\d\d):(\d\d\.\d+) INFO  \w+ - " + res + ": " + pattern, tern_log)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
def sync(res):
    sent = re.search(res + r": full sync copied \d+ bytes \((\d+) sent", tern_log)
    return stamp(res, "full sync complete") - stamp(res, "full sync of"), int(sent.group(1))
(first, sent0), (second, sent1) = sync("r0"), sync("r1")
literal = int(re.search(r"Literal data: ([\d,]+)", rsync).group(1).replace(",", ""))
rsync_s = r1 - r0
cache = "page cache warm" if warm else "page cache dropped before each"
cache += ", " + re.search(r"full sync of .* digest (\w+)", tern_log).group(1)
print(f"| {mib} MiB, {pct}% of 4 KiB blocks differ, {cache} | time (s) | data sent | rsync / Tern |")
print("|---|---:|---:|---:|")
print(f"| Tern, first sync after the daemons start | {first:.2f} | {sent0 / 2**20:.0f} MiB | **{rsync_s / first:.2f}×** |")
print(f"| Tern, a second sync in the same daemons | {second:.2f} | {sent1 / 2**20:.0f} MiB | **{rsync_s / second:.2f}×** |")
print(f"| Tern, first sync end to end: `tern join` (its JVM, the probe) until status shows the disk consistent | {t0_end - t0:.2f} | | {rsync_s / (t0_end - t0):.2f}× |")
print(f"| rsync --inplace --no-whole-file --ignore-times | {rsync_s:.2f} | {literal / 2**20:.0f} MiB literal | 1.00× |")
PY
