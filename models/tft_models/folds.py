"""The walk-forward fold server: loads the feature CSV once, then trains one bundle per
request, the same verified bundle `tft_models.train --out` writes (both call
`bundle.build_bundle`).

    uv run --locked python -m tft_models.folds --features CSV

Protocol (one JSON object per line; stdout carries responses only, logs go to stderr;
stdout is flushed after each response; EOF on stdin: exit 0):

    request  {"id": str, "out": abs dir, "train_from": "YYYY-MM-DD", "train_to": ...,
              "calibrate_from": ..., "calibrate_to": ..., "warm_start": null | abs bundle dir,
              "params": {"xgb_rounds": int, "lgb_rounds": int, "lstm_epochs": int,
                         "lstm_samples": int, "max_train_rows": int (0 = all)}}
    response {"id": str, "ok": true, "version": str, "dir": str,
              "metrics": {model: {calibrated metrics on the calibration slice, "brier",
                                  "brier_raw", "log_loss_raw", "macro_f1_raw"}},
              "seconds": {"xgboost", "lightgbm", "lstm", "calibration", "total"}}
           | {"id": str, "ok": false, "error": str}

`warm_start` is a previous bundle directory: its LSTM parameters and normaliser
(`lstm_state.npz`, written beside every bundle's files) initialise this fold's LSTM. Seeds are
fixed: the same request on the same CSV writes the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from tft_models.bundle import TrainConfig, build_bundle, install
from tft_models.dataset import load_features

PARAMS = ("xgb_rounds", "lgb_rounds", "lstm_epochs", "lstm_samples", "max_train_rows")
DATES = ("train_from", "train_to", "calibrate_from", "calibrate_to")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def config(req: dict) -> tuple[TrainConfig, Path]:
    missing = [k for k in ("id", "out", *DATES, "params") if k not in req]
    if missing:
        raise ValueError(f"request lacks {missing}")
    out = Path(req["out"])
    if not out.is_absolute():
        raise ValueError(f"out {req['out']!r} is not an absolute path")
    params = req["params"]
    bad = [k for k in PARAMS if not isinstance(params.get(k), int) or isinstance(params.get(k), bool)
           or params[k] < 0]
    if bad:
        raise ValueError(f"params {bad} must be non-negative integers")
    warm = req.get("warm_start")
    if warm is not None and not (Path(warm).is_absolute() and Path(warm).is_dir()):
        raise ValueError(f"warm_start {warm!r} is not an absolute bundle directory")
    cfg = TrainConfig(**{k: str(req[k]) for k in DATES}, warm_start=warm,
                      **{k: int(params[k]) for k in PARAMS})
    return cfg, out


def fold_metrics(manifest: dict) -> dict:
    diag = manifest["calibration"]["diagnostics"]
    out = {}
    for name, m in manifest["validation_metrics"].items():
        raw = diag[name]["raw_metrics"]
        out[name] = {**m, "brier": diag[name]["after"]["brier"], "brier_raw": diag[name]["before"]["brier"],
                     "log_loss_raw": raw["log_loss"], "macro_f1_raw": raw["macro_f1"]}
    return out


def handle(table, line: str) -> dict:
    try:
        req = json.loads(line)
    except json.JSONDecodeError as e:
        return {"id": "", "ok": False, "error": f"not JSON: {e}"}
    rid = req.get("id", "") if isinstance(req, dict) else ""
    try:
        if not isinstance(req, dict):
            raise ValueError("a request is a JSON object")
        cfg, out = config(req)
        t0 = time.perf_counter()
        # The command recorded in the manifest: the request without its id and out, so the
        # same fold requested again writes the same bytes.
        same = {k: v for k, v in sorted(req.items()) if k not in ("id", "out")}
        work, manifest, seconds = build_bundle(table, cfg, "tft_models.folds " + json.dumps(same, sort_keys=True),
                                               log=log)
        install(work, out)
        seconds["total"] = round(time.perf_counter() - t0, 2)
        return {"id": rid, "ok": True, "version": manifest["version"], "dir": str(out),
                "metrics": fold_metrics(manifest), "seconds": seconds}
    except Exception as e:  # one bad fold answers an error; the server keeps serving
        log(traceback.format_exc())
        return {"id": rid, "ok": False, "error": f"{type(e).__name__}: {e}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=Path, required=True)
    args = ap.parse_args(argv)
    # Responses get a private copy of stdout; fd 1 itself goes to stderr, so nothing a
    # library prints (xgboost, lightgbm, XLA) can corrupt the protocol.
    responses = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    t0 = time.perf_counter()
    table = load_features(args.features)
    log(f"folds: {len(table)} rows, {len(set(table.tickers))} tickers loaded in "
        f"{time.perf_counter() - t0:.1f} s; waiting for requests on stdin")
    for line in sys.stdin:
        if not line.strip():
            continue
        resp = handle(table, line)
        responses.write(json.dumps(resp, allow_nan=False) + "\n")
        responses.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
