#!/usr/bin/env bash
# Fast full sync benchmark: a 1 GiB image whose secondary copy differs in 1% of its 4 KiB
# blocks (random, seeded). Tern: a primary daemon serving the image and a secondary daemon
# joining with its stale copy as --data (fast mode: chunk digests, only differing chunks move);
# timed from the join until the secondary's sync phase leaves "copying" and until it is done.
# Baseline, same run, same disk: rsync --inplace --no-whole-file between the same two files.
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

# The images: random base; the stale copy differs in pct% of its 4 KiB blocks (the same blocks,
# the same bytes, for Tern and for rsync).
python3 - "$work" "$mib" "$pct" <<'PY'
import random, sys
work, mib, pct = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(20261121)
with open(f"{work}/base.img", "wb") as base, open(f"{work}/stale-tern.img", "wb") as stale:
    for _ in range(mib):
        b = rnd.randbytes(1 << 20)
        base.write(b)
        stale.write(b)
blocks = (mib << 20) // 4096
changed = rnd.sample(range(blocks), int(blocks * pct / 100))
with open(f"{work}/stale-tern.img", "r+b") as f:
    for b in changed:
        f.seek(b * 4096)
        f.write(rnd.randbytes(4096))
print(f"{len(changed)} of {blocks} blocks changed", file=sys.stderr)
PY
cp --sparse=never "$work/stale-tern.img" "$work/stale-rsync.img"

# Primary: a node whose resource holds base.img (written through NBD, not timed).
aport=$(free_port)
"$root/tern" init --home "$work/a" --node a --listen "127.0.0.1:$aport" --nbd 127.0.0.1:0 --http 127.0.0.1:0 >&2
"$root/tern" create r0 --size "${mib}M" --home "$work/a" >&2
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
sync

# (grep, not a Python per poll: the poll must not take the CPU the sync runs on)
phase() { curl -s "http://$b_http/status/r0" | grep -o '"phase": "[a-z]*"' | cut -d'"' -f4; }

[ -n "${WARM:-}" ] || echo 3 > /proc/sys/vm/drop_caches
t0=$(now)
"$root/tern" join r0 --peer "127.0.0.1:$aport" --data "$work/stale-tern.img" --home "$work/b" >&2
t_join=$(now)
while [ "$(phase)" = copying ]; do sleep 0.1; done
t_copied=$(now)
while [ "$(phase)" != done ]; do sleep 0.1; done
t_done=$(now)
cmp "$work/base.img" "$work/stale-tern.img" || { echo "Tern's copy differs from base.img" >&2; exit 1; }

[ -n "${WARM:-}" ] || echo 3 > /proc/sys/vm/drop_caches
r0=$(now)
rsync --inplace --no-whole-file --ignore-times --stats "$work/base.img" "$work/stale-rsync.img" > "$work/rsync.txt"
r1=$(now)
cmp "$work/base.img" "$work/stale-rsync.img" || { echo "rsync's copy differs from base.img" >&2; exit 1; }

python3 - "$mib" "$pct" "$t0" "$t_join" "$t_copied" "$t_done" "$r0" "$r1" "$work/b.err" "$work/rsync.txt" <<'PY'
import re, sys
mib, pct, t0, tj, tc, td, r0, r1 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:9])
tern_log, rsync = open(sys.argv[9]).read(), open(sys.argv[10]).read()
copied = re.search(r"full sync copied \d+ bytes \((\d+) sent", tern_log)
stamp = lambda pattern: (lambda m: int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)))(
    re.search(r"(\d\d):(\d\d):(\d\d\.\d+) INFO  \w+ - r0: " + pattern, tern_log))
sync_s = stamp("full sync complete") - stamp("full sync of")
sent = re.search(r"Literal data: ([\d,]+)", rsync)
tern_s, rsync_s = td - t0, r1 - r0
print(f"| {mib} MiB, {pct}% of 4 KiB blocks differ | time (s) | data sent |")
print("|---|---:|---:|")
print(f"| Tern, the sync itself: the secondary daemon's log from 'full sync of' to the disk consistent | {sync_s:.1f} | {int(copied.group(1)) / 2**20:.0f} MiB |")
print(f"| Tern, end to end: the `tern join` command (its JVM, the probe, {tj - t0:.1f} s) until status shows the disk consistent | {tern_s:.1f} | |")
print(f"| rsync --inplace --no-whole-file | {rsync_s:.1f} | {int(sent.group(1).replace(',', '')) / 2**20:.0f} MiB literal |")
print(f"| **rsync / Tern**, the sync itself / end to end | **{rsync_s / sync_s:.2f}×** / **{rsync_s / tern_s:.2f}×** | |")
PY
