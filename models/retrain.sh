#!/usr/bin/env bash
# Weekly retrain (docs/retrain.md): export the training set from the database, train a new
# bundle (trained, then calibrated on the last 3 months), upload it to the model store, and
# promote it if its strategy earns more than the current version's when both are re-scored by
# the backtester on the candidate's calibration slice from the stored bars (core::promotion;
# the store keeps every version: `tft models rollback VERSION` forces one back).
#
#   DATABASE_URL=postgres://... TFT_MODEL_STORE=s3://bucket/models models/retrain.sh
#
# Environment:
#   DATABASE_URL      read by `tft features export --from-db` (required)
#   TFT_MODEL_STORE   the store `tft models upload/promote --store` take (required)
#   TFT_BIN           the tft binary (default: tft on PATH, else target/release/tft)
#   RETRAIN_TO        last day of the export (default: yesterday, UTC)
#   RETRAIN_WORKDIR   scratch directory (default: a fresh mktemp -d, removed at the end)
#   RETRAIN_FEATURES  use this exported CSV instead of exporting from the database (dry runs)
#   RETRAIN_TRAIN_ARGS  extra flags for tft_models.train (e.g. "--lstm-epochs 1" for a smoke run)
#   RETRAIN_SCORE_PRICES, RETRAIN_SCORE_BENCHMARK  score the promotion on price files instead
#                     of the database (dry runs)
#   RETRAIN_PYTHON    the Python of an already synced, locked environment (default: `uv run
#                     --locked python`, which syncs models/.venv first); the Lambda image sets
#                     it, its models/ being read-only (models/Dockerfile)
#
# Windows, rolling with RETRAIN_TO (docs/retrain.md):
#   export       RETRAIN_TO - 5 years .. RETRAIN_TO
#   training     export start .. calibration start - 21 days (>= 10 trading days of purge,
#                more than the 7-day label horizon; the trainer checks it)
#   calibration  RETRAIN_TO - 3 months .. RETRAIN_TO (its last 7 bars have no label yet and
#                are dropped by the trainer): isotonic calibration and the metrics
# The newest training label is ~3.7 months old when the bundle is built (it was ~9.7 months
# with the former 9-month validation window).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if [[ -z "${RETRAIN_FEATURES:-}" ]]; then : "${DATABASE_URL:?DATABASE_URL must be set}"; fi
: "${TFT_MODEL_STORE:?TFT_MODEL_STORE must be set (s3://bucket/prefix or a directory)}"
if [[ -z "${TFT_BIN:-}" ]]; then
  if command -v tft >/dev/null; then TFT_BIN=tft; else TFT_BIN="$here/../target/release/tft"; fi
fi

to="${RETRAIN_TO:-$(date -u -d yesterday +%F)}"
export_from="$(date -u -d "$to - 5 years" +%F)"
calibrate_from="$(date -u -d "$to - 3 months" +%F)"
train_to="$(date -u -d "$calibrate_from - 21 days" +%F)"

work="${RETRAIN_WORKDIR:-}"
if [[ -z "$work" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work="$(realpath "$work")"  # the trainer runs from models/
echo "retrain: export $export_from..$to, train ..$train_to, calibrate $calibrate_from..$to, work $work"

# Each step's wall time, in the log (the Lambda's log group; docs/retrain.md).
step_started=$SECONDS
step_done() { echo "retrain: $1 took $((SECONDS - step_started)) s"; step_started=$SECONDS; }

features="$(realpath -m "${RETRAIN_FEATURES:-$work/features.csv}")"
if [[ -z "${RETRAIN_FEATURES:-}" ]]; then
  "$TFT_BIN" features export --from-db --from "$export_from" --to "$to" --out "$features"
  step_done export
fi

if [[ -n "${RETRAIN_PYTHON:-}" ]]; then py=("$RETRAIN_PYTHON"); else py=(uv run --locked python); fi

# shellcheck disable=SC2086  # RETRAIN_TRAIN_ARGS is a list of flags
(cd "$here" && "${py[@]}" -m tft_models.train \
  --features "$features" --out "$work/bundle" \
  --train-from "$export_from" --train-to "$train_to" \
  --calibrate-from "$calibrate_from" --calibrate-to "$to" --purge-days 10 ${RETRAIN_TRAIN_ARGS:-})
step_done training

version="$(cd "$here" && "${py[@]}" -c \
  'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$work/bundle/manifest.json")"

"$TFT_BIN" models upload --dir "$work/bundle" --store "$TFT_MODEL_STORE"
step_done upload
if [[ -n "${RETRAIN_SCORE_PRICES:-}" ]]; then
  # Dry runs without a database: score on price files.
  "$TFT_BIN" models promote "$version" --store "$TFT_MODEL_STORE" \
    --prices "$RETRAIN_SCORE_PRICES" --benchmark "${RETRAIN_SCORE_BENCHMARK:?set with RETRAIN_SCORE_PRICES}"
else
  "$TFT_BIN" models promote "$version" --store "$TFT_MODEL_STORE" --from-db
fi
step_done promotion
echo "retrain: $version uploaded; promotion result above"
