#!/usr/bin/env bash
# Benchmark (not a test): `tft sentiment-file` on a synthetic 5M-comment Pushshift stream
# built from the bundled real comments (tools/bench/synthetic_comments.py), once as plain
# NDJSON and once compressed from a pipe with `zstd --long=31` (a frame that declares a
# 2 GiB window). Prints items/s through scoring and the peak memory (max RSS) of each run.
#
#   cargo build --release -p tft && tools/bench/sentiment_file.sh [ITEMS] [WORKERS]
#
# Needs python3, zstd and GNU time (/usr/bin/time); ~1 GB of scratch per 5M items
# (TMPDIR, or BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
ITEMS="${1:-5000000}"
WORKERS="${2:-2}"
TFT="${CARGO_TARGET_DIR:-target}/release/tft"
[ -x "$TFT" ] || { echo "build it first: cargo build --release -p tft" >&2; exit 1; }
for tool in python3 zstd /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
# BENCH_DIR keeps the generated stream between runs (it is deterministic); else a temp dir.
if [ -n "${BENCH_DIR:-}" ]; then DIR="$BENCH_DIR"; mkdir -p "$DIR"; else
  DIR="$(mktemp -d)"; trap 'rm -rf "$DIR"' EXIT; fi

if [ ! -s "$DIR/comments.ndjson.zst" ] || [ "$(cat "$DIR/items" 2>/dev/null)" != "$ITEMS" ]; then
  echo "== generating $ITEMS comments"
  python3 tools/bench/synthetic_comments.py --items "$ITEMS" > "$DIR/comments.ndjson"
  # From a pipe, as the archives are made: the frame declares the 2 GiB window.
  zstd -q -T2 --long=31 -c < "$DIR/comments.ndjson" > "$DIR/comments.ndjson.zst"
  echo "$ITEMS" > "$DIR/items"
fi
ls -l "$DIR/comments.ndjson" "$DIR/comments.ndjson.zst" | awk '{print $5, $9}'
echo "declared window: $(zstd -lv "$DIR/comments.ndjson.zst" 2>/dev/null | awk -F': ' '/Window Size/ {print $2}')"

run() {
  local input="$1" label="$2"
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$DIR/rss" "$TFT" sentiment-file "$input" --out "$DIR/daily.csv" \
    --workers "$WORKERS" --spill-dir "$DIR" --quiet > "$DIR/summary"
  end=$(date +%s.%N)
  local secs rss_mb
  secs=$(echo "$end - $start" | bc -l)
  rss_mb=$(echo "$(cat "$DIR/rss") / 1024" | bc -l)
  printf '%-22s %9d items  %7.1f s  %9.0f items/s  peak RSS %6.1f MB  %s rows\n' \
    "$label" "$ITEMS" "$secs" "$(echo "$ITEMS / $secs" | bc -l)" "$rss_mb" \
    "$(($(wc -l < "$DIR/daily.csv") - 1))"
}

echo "== tft sentiment-file, $WORKERS scoring threads, $(nproc) cores"
run "$DIR/comments.ndjson" "plain NDJSON"
run "$DIR/comments.ndjson.zst" "zstd --long=31"
tail -1 "$DIR/summary"
