#!/usr/bin/env bash
# Benchmark (not a test): the monthly walk-forward's wall time, issue 10's speed goal (405
# tickers, 2020-2021, monthly retrain, <= 20 minutes on 2 cores). Runs the release `tft
# backtest --walk-forward` once with a fresh fold cache (every fold trains) and prints the
# whole command's wall time, the training time, each step's seconds per fold (from the fold
# server's answers, kept in the cache's fold.json) and the rest of the run (`timings:` lines).
#
#   tools/bench/walk_forward.sh [--size reduced|full] [--lstm-every N] [--from D --to D]
#                               [--prices DIR] [--posts FILE...] [--out DIR] [--no-build]
#
#   --size reduced  the settings of the reported 2020-21 runs (docs/backtest.md): at most
#                   150,000 training rows per fold, 50 XGBoost and 100 LightGBM rounds, the
#                   LSTM 2 epochs cold then 1 warm epoch per fold on 30,000 windows (default)
#   --size full     the command's defaults, the weekly retrain's model sizes: every training
#                   row, 100 and 200 rounds, 4 cold epochs then 1 warm on 120,000 windows
#   --lstm-every N  train the LSTM on every Nth fold only (default 1)
#   --from/--to     the test window (default 2020-01-13..2021-12-31, 26 monthly folds)
#   --prices DIR    daily bars, one <TICKER>.csv each, SPY.csv among them (default
#                   ../shared/data/prices/daily, the 405 tickers handed beside the checkout)
#   --posts FILE... Reddit dumps (default data/sample/reddit/*.csv)
#
# Needs uv (the fold server runs through the models project's lock file). Run it on a quiet
# machine: the number is the wall time, and two cores shared with a build double it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

size=reduced; lstm_every=1; from=2020-01-13; to=2021-12-31; build=1
prices="$root/../shared/data/prices/daily"; out=""; posts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --lstm-every) lstm_every="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    --to) to="$2"; shift 2 ;;
    --prices) prices="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --posts) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do posts+=("$1"); shift; done ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "walk_forward: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "${#posts[@]}" -gt 0 ] || posts=("$root"/data/sample/reddit/*.csv)
[ -d "$prices" ] || { echo "walk_forward: no price directory $prices (give --prices DIR)" >&2; exit 1; }
[ -f "$prices/SPY.csv" ] || { echo "walk_forward: $prices has no SPY.csv (the benchmark)" >&2; exit 1; }
command -v uv >/dev/null || { echo "walk_forward: uv is not installed (python3 -m pip install uv)" >&2; exit 1; }
case "$size" in
  reduced) sizes=(--max-train-rows 150000 --xgb-rounds 50 --lgb-rounds 100 --lstm-epochs 2
                  --lstm-warm-epochs 1 --lstm-samples 30000) ;;
  full) sizes=() ;;
  *) echo "walk_forward: --size is reduced or full" >&2; exit 2 ;;
esac

if [ "$build" = 1 ]; then
  echo "walk_forward: cargo build --release -p tft" >&2
  cargo build --release -p tft
fi
tft="$target_dir/release/tft"
[ -x "$tft" ] || { echo "walk_forward: $tft is not built (run without --no-build)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tft-walk-forward.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="${out:-$work/out}"
manifest=()
[ -f "$prices/../manifest.csv" ] && manifest=(--manifest "$prices/../manifest.csv")

echo "walk_forward: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
start=$(date +%s.%N)
# Not --quiet: that would also drop the `walk-forward:` and `timings:` lines printed below
# (the progress bars hide themselves, stderr being a file).
/usr/bin/time -v -o "$work/time.txt" "$tft" backtest --walk-forward --prices "$prices" \
  --posts "${posts[@]}" --benchmark "$prices/SPY.csv" "${manifest[@]}" --from "$from" --to "$to" \
  --retrain-every 4 --lstm-every "$lstm_every" "${sizes[@]}" --random-seeds 100 \
  --out "$out" --cache "$work/cache" > "$work/stdout.txt" 2> "$work/stderr.txt" || {
    tail -20 "$work/stderr.txt" >&2; exit 1; }
end=$(date +%s.%N)
echo "walk_forward: load average $(cut -d' ' -f1-3 /proc/loadavg) after the run" >&2

python3 - "$work/cache/folds" "$work/stdout.txt" "$work/stderr.txt" "$work/time.txt" "$start" "$end" \
  "$size" "$lstm_every" "$from" "$to" <<'PY'
import json, pathlib, re, statistics, sys
folds_dir, stdout, stderr, timefile, start, end, size, every, first, last = sys.argv[1:]
wall = float(end) - float(start)
folds = sorted((json.loads(p.read_text()) for p in pathlib.Path(folds_dir).glob("*/fold.json")),
               key=lambda f: f["version"])
text = pathlib.Path(stdout).read_text() + pathlib.Path(stderr).read_text()
cpu = {k: float(v) for k, v in re.findall(r"(User|System) time \(seconds\): ([\d.]+)",
                                           pathlib.Path(timefile).read_text())}
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", pathlib.Path(timefile).read_text())
print(f"Walk-forward {first}..{last}, monthly retrain, --size {size}, --lstm-every {every}: "
      f"{len(folds)} folds")
print()
print("| step | cold fold (s) | median later fold (s) | max later fold (s) | sum (s) |")
print("|---|---:|---:|---:|---:|")
for step in ("xgboost", "lightgbm", "lstm", "calibration", "total"):
    vals = [f["seconds"].get(step, 0.0) for f in folds]
    later = vals[1:] or [0.0]
    print(f"| {step} | {vals[0]:.1f} | {statistics.median(later):.1f} | {max(later):.1f} | {sum(vals):.1f} |")
print()
for line in text.splitlines():
    if line.startswith(("walk-forward:", "timings:")):
        print(line)
print()
print(f"whole command: {wall:.0f} s wall ({wall / 60:.1f} min), CPU {cpu.get('User', 0):.0f} s user + "
      f"{cpu.get('System', 0):.0f} s system, peak RSS {int(rss.group(1)) / 1024:.0f} MB" if rss else "")
if (first, last) == ("2020-01-13", "2021-12-31"):
    print(f"goal <= 20 min: {'met' if wall <= 1200 else 'missed'} ({wall / 1200:.2f}x the goal)")
else:
    print("goal <= 20 min: not judged (it is set for the default window, 2020-01-13..2021-12-31)")
PY
echo "walk_forward: report in $out (removed at exit unless --out was given)" >&2
