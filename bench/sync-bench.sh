#!/usr/bin/env bash
# Fast full sync and online verify benchmark: a 1 GiB image whose secondary copy differs in 1% of
# its 4 KiB blocks (random, seeded). Each run: a fresh primary daemon serving the image as two
# resources, r0 and r1, and a fresh secondary daemon that joins r0 and then r1, each with its own
# copy of the stale image as --data (fast mode: block digests, only differing blocks move). The
# first sync runs in daemons that have never synced (its code is not compiled yet); the second in
# the same daemons, as a long-running node's next sync would. Each is timed in the secondary's log
# from "full sync of" to "full sync complete".
# Baseline, same run, same disk: rsync --inplace --no-whole-file --ignore-times between the same
# two files. Then `tern verify r0` on the secondary (its "seconds"), against reading the two 1 GiB
# images once each, one after the other (dd): the least reading a verify needs.
# The page cache is dropped (after a sync) before each measurement (WARM=1: kept, everything is
# read from memory). Completion is seen in the secondary's log, then confirmed by its status; the
# status is not polled while the sync runs (each poll costs the daemon CPU the sync runs on).
# RUNS runs (default 5), each from fresh daemons; prints every run and the median (min–max);
# bench/target/sync/results.txt keeps each run's figures and the load average at its start.
# SYNC_DIGEST=sha256 joins with --sync-digest sha256 (default: xxh128).
# Usage: [RUNS=5] [WARM=1] bench/sync-bench.sh [size-MiB] [percent-changed]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mib="${1:-1024}"
pct="${2:-1}"
runs="${RUNS:-5}"
work="$root/bench/target/sync"
"$root/scripts/install-deps" java maven nbd >&2
command -v rsync >/dev/null || { apt-get update -qq && apt-get install -y -q rsync; } >&2
rm -rf "$work"; mkdir -p "$work"
"$root/tern" --version >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
# sync first: writeback of the files just written must not run inside the timed part.
drop_caches() { sync; [ -n "${WARM:-}" ] || echo 3 > /proc/sys/vm/drop_caches; }

# The images: random base; the stale copy differs in pct% of its 4 KiB blocks (the same blocks,
# the same bytes, for Tern and for rsync, in every run).
python3 - "$work" "$mib" "$pct" <<'PY'
import random, sys
work, mib, pct = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(20261121)
with open(f"{work}/base.img", "wb") as base, open(f"{work}/stale.img", "wb") as stale:
    for _ in range(mib):
        b = rnd.randbytes(1 << 20)
        base.write(b)
        stale.write(b)
blocks = (mib << 20) // 4096
changed = rnd.sample(range(blocks), int(blocks * pct / 100))
with open(f"{work}/stale.img", "r+b") as f:
    for b in changed:
        f.seek(b * 4096)
        f.write(rnd.randbytes(4096))
print(f"{len(changed)} of {blocks} blocks changed", file=sys.stderr)
PY

a_pid=; b_pid=
stop_daemons() {
  for p in $a_pid $b_pid; do kill "$p" 2>/dev/null || true; done
  for p in $a_pid $b_pid; do wait "$p" 2>/dev/null || true; done
  a_pid=; b_pid=
}
trap stop_daemons EXIT

one_run() {
  local run=$1 w="$work/run$1"
  mkdir -p "$w"
  cut -d' ' -f1 /proc/loadavg > "$w/load"
  for f in r0 r1 rsync; do cp --sparse=never "$work/stale.img" "$w/stale-$f.img"; done

  # Primary: a node whose resources r0 and r1 hold base.img (written through NBD, not timed).
  local aport a_nbd b_http
  aport=$(free_port)
  "$root/tern" init --home "$w/a" --node a --listen "127.0.0.1:$aport" --nbd 127.0.0.1:0 --http 127.0.0.1:0 --transport plain >&2
  "$root/tern" create r0 --size "${mib}M" --home "$w/a" >&2
  "$root/tern" create r1 --size "${mib}M" --home "$w/a" >&2
  "$root/tern" run --home "$w/a" > "$w/a.out" 2> "$w/a.err" &
  a_pid=$!
  "$root/tern" init --home "$w/b" --node b --nbd 127.0.0.1:0 --http 127.0.0.1:0 --listen 127.0.0.1:0 --transport plain >&2
  "$root/tern" run --home "$w/b" > "$w/b.out" 2> "$w/b.err" &
  b_pid=$!
  for f in a b; do
    for _ in $(seq 1 300); do grep -q READY "$w/$f.out" 2>/dev/null && break; sleep 0.2; done
    grep -q READY "$w/$f.out" || { echo "node $f did not start; see $w/$f.err" >&2; exit 1; }
  done
  a_nbd=$(sed -n 's/.*nbd=\([^ ]*\).*/\1/p' "$w/a.out")
  b_http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' "$w/b.out")
  nbdcopy "$work/base.img" "nbd://$a_nbd/r0"
  nbdcopy "$work/base.img" "nbd://$a_nbd/r1"

  local res t0 t1 r0 r1 v0 v1 d0 d1
  for res in r0 r1; do
    drop_caches
    t0=$(now)
    "$root/tern" join "$res" --peer "127.0.0.1:$aport" --data "$w/stale-$res.img" \
        --sync-digest "${SYNC_DIGEST:-xxh128}" --home "$w/b" >&2
    [ "$res" = r1 ] || now > "$w/first-join-returned"
    # The log says when the copy ends (grep of a small file, no work for the daemon); then the
    # status must show it.
    until grep -q "$res: full sync complete" "$w/b.err"; do sleep 0.05; done
    until curl -s "http://$b_http/status/$res" | grep -q '"phase": "done"'; do sleep 0.05; done
    t1=$(now)
    [ "$res" = r1 ] || echo "$t0 $t1" > "$w/first-end-to-end"
    cmp "$work/base.img" "$w/stale-$res.img" || { echo "Tern's copy of $res differs from base.img" >&2; exit 1; }
  done

  drop_caches
  r0=$(now)
  rsync --inplace --no-whole-file --ignore-times --stats "$work/base.img" "$w/stale-rsync.img" > "$w/rsync.txt"
  r1=$(now)
  cmp "$work/base.img" "$w/stale-rsync.img" || { echo "rsync's copy differs from base.img" >&2; exit 1; }
  echo "$r0 $r1" > "$w/rsync-time"

  # Online verify of r0 (the secondary against its primary), then the floor it is held to: both
  # images read once each, one after the other.
  drop_caches
  v0=$(now)
  "$root/tern" verify r0 --home "$w/b" > "$w/verify.json"
  v1=$(now)
  echo "$v0 $v1" > "$w/verify-time"
  drop_caches
  d0=$(now)
  dd if="$w/a/resources/r0/data.img" of=/dev/null bs=1M status=none
  dd if="$w/stale-r0.img" of=/dev/null bs=1M status=none
  d1=$(now)
  echo "$d0 $d1" > "$w/read-twice-time"
  stop_daemons

  python3 - "$w" >> "$work/results.txt" <<'PY'
import datetime, json, re, sys
w = sys.argv[1]
log = open(f"{w}/b.err").read()
def stamp(res, pattern):
    m = re.search(r"(\d\d):(\d\d):(\d\d\.\d+) INFO  \w+ - " + res + ": " + pattern, log)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
def span(name):
    a, b = map(float, open(f"{w}/{name}").read().split())
    return b - a
first = stamp("r0", "full sync complete") - stamp("r0", "full sync of")
t0 = float(open(f"{w}/first-end-to-end").read().split()[0])
day = datetime.datetime.fromtimestamp(t0).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
join_cli = float(open(f"{w}/first-join-returned").read()) - t0  # the join command's JVM and request
join_to_sync = stamp("r0", "full sync of") - (t0 - day)  # until the secondary's first sync session is welcomed
second = stamp("r1", "full sync complete") - stamp("r1", "full sync of")
sent = [int(m) for m in re.findall(r"full sync copied \d+ bytes \((\d+) sent", log)]
literal = int(re.search(r"Literal data: ([\d,]+)", open(f"{w}/rsync.txt").read()).group(1).replace(",", ""))
verify = json.load(open(f"{w}/verify.json"))
assert verify["compared_bytes"] > 0 and verify["differing_bytes"] == 0, verify
print(json.dumps({"first": first, "second": second, "first_e2e": span("first-end-to-end"),
                  "rsync": span("rsync-time"), "verify": verify["seconds"], "verify_e2e": span("verify-time"),
                  "read_twice": span("read-twice-time"), "sent": sent, "literal": literal,
                  "join_cli": join_cli, "join_to_sync": join_to_sync, "load": float(open(f"{w}/load").read()),
                  "digest": re.search(r"full sync of .* digest (\w+)", log).group(1)}))
PY
  for f in a.err b.err rsync.txt verify.json; do mv "$w/$f" "$work/run$run-$f"; done
  rm -rf "$w" # the images; a failed run keeps its folder
}

for run in $(seq 1 "$runs"); do
  echo "run $run of $runs" >&2
  one_run "$run"
done

python3 - "$work/results.txt" "$mib" "$pct" "${WARM:+warm}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mib, pct, warm = sys.argv[2], sys.argv[3], sys.argv[4]
for r in rows:
    r["x_first"] = r["rsync"] / r["first"]
    r["x_second"] = r["rsync"] / r["second"]
    r["x_e2e"] = r["rsync"] / r["first_e2e"]
    r["v_ratio"] = r["verify"] / r["read_twice"]
cols = [("first", "Tern first sync (s)", "{:.2f}"), ("second", "Tern second sync (s)", "{:.2f}"),
        ("first_e2e", "first sync end to end (s)", "{:.2f}"), ("rsync", "rsync (s)", "{:.2f}"),
        ("x_first", "rsync / first", "{:.2f}×"), ("x_second", "rsync / second", "{:.2f}×"),
        ("x_e2e", "rsync / end to end", "{:.2f}×"), ("verify", "tern verify (s)", "{:.2f}"),
        ("read_twice", "read both images (s)", "{:.2f}"), ("v_ratio", "verify / read both", "{:.2f}")]
cache = "page cache warm" if warm else "page cache dropped before each"
print(f"{mib} MiB, {pct}% of 4 KiB blocks differ, {cache}, block digest {rows[0]['digest']}, {len(rows)} runs")
print()
print("| run | " + " | ".join(c[1] for c in cols) + " |")
print("|---|" + "---:|" * len(cols))
for i, r in enumerate(rows, 1):
    print(f"| {i} | " + " | ".join(c[2].format(r[c[0]]) for c in cols) + " |")
def cell(key, fmt):
    v = sorted(r[key] for r in rows)
    return f"**{fmt.format(statistics.median(v))}** ({fmt.format(v[0])}–{fmt.format(v[-1])})"
print("| median (min–max) | " + " | ".join(cell(c[0], c[2]) for c in cols) + " |")
print()
med = lambda k: statistics.median(r[k] for r in rows)
print(f"Tern sent {rows[0]['sent'][0] / 2**20:.0f} MiB per sync; rsync sent {rows[0]['literal'] / 2**20:.0f} MiB of literal data. "
      f"Medians: `tern join` returned after {med('join_cli'):.2f} s and the first sync started {med('join_to_sync'):.2f} s "
      f"after the command was started; `tern verify` end to end (its JVM included) {med('verify_e2e'):.2f} s.")
PY
