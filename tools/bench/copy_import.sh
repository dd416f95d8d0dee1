#!/usr/bin/env bash
# Benchmark (not a test): the imports' write path (`tft import-prices`, `tft import-reddit`,
# `tft backfill`: batches of binary COPY into a staging table + one set-based upsert, one
# transaction each) against a plain `COPY ... FROM STDIN (FORMAT binary)` of the same rows
# into the same table with the same indexes, timed from parsed rows to committed rows
# (parsing, indicators and scoring excluded). One run, on a throwaway PostgreSQL cluster
# that infra/test-env.sh starts and stops. Goal: import path <= 1.5x plain COPY.
#
#   cargo build --release -p tft && tools/bench/copy_import.sh [PRICES_DIR] [REDDIT_ITEMS] [REPEAT]
#
# PRICES_DIR defaults to the 406 price files handed beside the checkout
# (../shared/data/prices/daily, ~772k bars); the Reddit items are the bundled comments
# cycled with new ids up to REDDIT_ITEMS (default 1,000,000).
set -euo pipefail
cd "$(dirname "$0")/../.."
TFT="$(pwd)/${CARGO_TARGET_DIR:-target}/release/tft"
[ -x "$TFT" ] || { echo "build it first: cargo build --release -p tft" >&2; exit 1; }
PRICES="${1:-../shared/data/prices/daily}"
ITEMS="${2:-1000000}"
REPEAT="${3:-3}"
[ -d "$PRICES" ] || { echo "no price directory $PRICES" >&2; exit 1; }
export TFT PRICES ITEMS REPEAT
infra/test-env.sh bash -c '
  set -euo pipefail
  "$TFT" migrate >/dev/null
  psql "$DATABASE_URL" -Atc "SELECT version()" | cut -d, -f1
  echo "cores: $(nproc)"
  "$TFT" bench-copy --truncate --prices "$PRICES" --reddit-items "$ITEMS" --repeat "$REPEAT" \
    --posts data/sample/reddit/wsb_comments_2020-11_2021-12.csv \
            data/sample/reddit/wsb_comments_2021-01-16_02-07.csv
'
