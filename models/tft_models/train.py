"""Train the ensemble on an exported feature set, calibrate it and write a model bundle.

    uv run python -m tft_models.train --features CSV --out DIR
        [--train-from 2016-01-01 --train-to 2019-09-13 --calibrate-from 2019-10-01
         --calibrate-to 2019-12-31 --purge-days 10] [--class-weight none|balanced|sqrt]
        [--lstm-epochs N --lstm-samples N --xgb-rounds N --lgb-rounds N --max-train-rows N]
        [--warm-start BUNDLE_DIR] [--golden-rows N]
    uv run python -m tft_models.train --features CSV --store ROOT ...

`--out DIR` writes the bundle's files into DIR (what `tft models upload --dir` reads);
`--store ROOT` writes ROOT/ensemble/<version>/ and points ROOT/ensemble/current at it.

Split: training rows [train_from, train_to], a purge of >= --purge-days trading days (and >=
the label horizon), then the calibration slice [calibrate_from, calibrate_to] (about 3
months) on which each model's isotonic calibration is fitted and the metrics are measured.
There is no separate validation window any more (`--valid-from/--valid-to` are accepted as
aliases of `--calibrate-from/--calibrate-to`). The work is `bundle.build_bundle`, shared with
the walk-forward fold server (`tft_models.folds`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from tft_models.bundle import TrainConfig, build_bundle, install
from tft_models.dataset import load_features


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=Path, required=True)
    dest = ap.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", type=Path, help="bundle directory to write")
    dest.add_argument("--store", type=Path, help="store root: writes ensemble/<version>/ and current")
    ap.add_argument("--train-from", default="2016-01-01")
    ap.add_argument("--train-to", default="2019-09-13")
    ap.add_argument("--calibrate-from", "--valid-from", dest="calibrate_from", default="2019-10-01")
    ap.add_argument("--calibrate-to", "--valid-to", dest="calibrate_to", default="2019-12-31")
    ap.add_argument("--purge-days", type=int, default=10)
    ap.add_argument("--class-weight", choices=["none", "balanced", "sqrt"], default="sqrt")
    ap.add_argument("--xgb-rounds", type=int, default=100)
    ap.add_argument("--lgb-rounds", type=int, default=200)
    ap.add_argument("--lstm-epochs", type=int, default=4)
    ap.add_argument("--lstm-samples", type=int, default=120_000,
                    help="training windows drawn per epoch (0: all)")
    ap.add_argument("--max-train-rows", type=int, default=0,
                    help="a seeded random subset of N training rows for every model (0: all)")
    ap.add_argument("--warm-start", default=None,
                    help="a previous bundle directory: the LSTM starts from its lstm_state.npz")
    ap.add_argument("--golden-rows", type=int, default=64)
    return ap.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    argv_used = sys.argv[1:] if argv is None else list(argv)
    cfg = TrainConfig(train_from=args.train_from, train_to=args.train_to,
                      calibrate_from=args.calibrate_from, calibrate_to=args.calibrate_to,
                      purge_days=args.purge_days, class_weight=args.class_weight,
                      xgb_rounds=args.xgb_rounds, lgb_rounds=args.lgb_rounds,
                      lstm_epochs=args.lstm_epochs, lstm_samples=args.lstm_samples,
                      max_train_rows=args.max_train_rows,
                      warm_start=str(Path(args.warm_start).resolve()) if args.warm_start else None,
                      golden_rows=args.golden_rows)
    table = load_features(args.features)
    work, manifest, timings = build_bundle(table, cfg, "uv run python -m tft_models.train " + shlex.join(argv_used))
    version = manifest["version"]
    dest = install(work, args.out if args.out else args.store / "ensemble" / version)
    if args.store:
        (args.store / "ensemble" / "current").write_text(version)
    size = sum(p.stat().st_size for p in dest.iterdir())
    print(f"bundle {version}: {dest} ({size / 1e6:.2f} MB); seconds {json.dumps(timings)}")


if __name__ == "__main__":
    main()
