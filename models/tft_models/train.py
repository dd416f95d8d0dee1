"""Train the ensemble on an exported feature set and write a model bundle.

    uv run python -m tft_models.train --features CSV --out DIR
        [--train-from 2016-01-01 --train-to 2019-03-31 --valid-from 2019-04-15
         --valid-to 2019-12-31 --purge-days 10] [--class-weight none|balanced|sqrt]
        [--lstm-epochs N --lstm-samples N --xgb-rounds N --lgb-rounds N]
    uv run python -m tft_models.train --features CSV --store ROOT ...

`--out DIR` writes the bundle's files into DIR (what `tft models upload --dir` reads);
`--store ROOT` writes ROOT/ensemble/<version>/ and points ROOT/ensemble/current at it.

Models (all see the same rows: labelled, signal date in the window, 30 rows of history):
XGBoost and LightGBM on the signal date's 31 features, the LSTM on the 30-day window.
Metrics are computed on onnxruntime's outputs of the exported files (what serving runs).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import tempfile
import time
from importlib.metadata import version as pkg_version
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
import xgboost as xgb

from tft_models import lstm, lstm_onnx
from tft_models import trees_to_onnx as t2o
from tft_models.data import CLASSES, FEATURE_NAMES, schema_hash
from tft_models.dataset import SCHEMA_VERSION, SEQ_LEN, class_counts, load_features, make_split, windows
from tft_models.manifest import (
    GOLDEN_FILE,
    MODEL_FILES,
    WEIGHTS,
    check_bundle,
    dumps,
    sha256_file,
    version_name,
)
from tft_models.metrics import BUY_THRESHOLD, metrics

SEED = 42
THREADS = 2
GOLDEN_ROWS = 64


def class_weights(y: np.ndarray, mode: str) -> np.ndarray:
    counts = np.bincount(y, minlength=3).astype(np.float64)
    if mode == "none":
        w = np.ones(3)
    elif mode == "balanced":
        w = counts.sum() / (3 * counts)
    elif mode == "sqrt":
        w = np.sqrt(counts.sum() / (3 * counts))
    else:
        raise ValueError(mode)
    return w / (w * counts).sum() * counts.sum()  # mean sample weight 1


def train_xgboost(x, y, w, rounds: int) -> xgb.Booster:
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 6, "eta": 0.1,
              "seed": SEED, "nthread": THREADS, "tree_method": "hist"}
    return xgb.train(params, xgb.DMatrix(x, label=y, weight=w), num_boost_round=rounds)


def train_lightgbm(x, y, w, rounds: int) -> lgb.Booster:
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 31, "learning_rate": 0.05,
              "seed": SEED, "deterministic": True, "force_row_wise": True,
              "num_threads": THREADS, "verbose": -1}
    return lgb.train(params, lgb.Dataset(x, label=y, weight=w), num_boost_round=rounds)


def ort_session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_trees(path: Path, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    sess = ort_session(path)
    return np.concatenate([sess.run(["probabilities"], {"input": x[i:i + chunk]})[0]
                           for i in range(0, len(x), chunk)])


def ort_lstm(path: Path, x_all: np.ndarray, rows: np.ndarray, chunk: int = 2048) -> np.ndarray:
    sess = ort_session(path)
    return np.concatenate([sess.run([lstm_onnx.OUTPUT], {lstm_onnx.INPUT: windows(x_all, rows[i:i + chunk])})[0]
                           for i in range(0, len(rows), chunk)])


def ensemble(probs: dict[str, np.ndarray]) -> np.ndarray:
    """Σ weight × p in float64, in the order lstm, xgboost, lightgbm."""
    out = np.zeros_like(probs["lstm"], dtype=np.float64)
    for name in ("lstm", "xgboost", "lightgbm"):
        out = out + WEIGHTS[name] * probs[name].astype(np.float64)
    return out


def pick_golden_rows(valid_rows: np.ndarray, labels: np.ndarray, tickers: np.ndarray) -> np.ndarray:
    """64 validation rows: about a third of each label, spread over tickers, fixed by the seed."""
    rng = np.random.default_rng(SEED)
    picked = []
    for cls, n in zip((0, 1, 2), (21, 22, 21)):
        cand = valid_rows[labels[valid_rows] == cls]
        picked.extend(rng.choice(cand, size=min(n, len(cand)), replace=False).tolist())
    picked = np.array(sorted(picked), dtype=np.int64)
    assert len(np.unique(tickers[picked])) >= 8, "golden rows should span several tickers"
    return picked


def f32_json(v: np.float32) -> float:
    """The shortest decimal that reads back as the same float32."""
    return float(str(np.float32(v)))


def golden(table, rows: np.ndarray, outputs: dict[str, np.ndarray]) -> dict:
    seqs = windows(table.x, rows)
    seq_json = [[[f32_json(v) for v in day] for day in s] for s in seqs]
    back = np.array(seq_json, dtype=np.float64).astype(np.float32)
    assert np.array_equal(back, seqs), "golden sequences do not round-trip through f64 -> f32"
    return {
        "schema_hash": schema_hash(),
        "feature_names": FEATURE_NAMES,
        "classes": CLASSES,
        "seq_len": SEQ_LEN,
        "rows": [{"ticker": str(table.tickers[r]), "date": str(table.dates[r])} for r in rows],
        "sequences": seq_json,
        "outputs": {name: [[float(p) for p in row] for row in outputs[name]]
                    for name in ("lstm", "xgboost", "lightgbm", "ensemble")},
    }


def library_versions() -> dict:
    names = ["numpy", "xgboost-cpu", "lightgbm", "jax", "jaxlib", "optax", "onnx", "onnxruntime"]
    return {"python": platform.python_version(), **{n: pkg_version(n) for n in names}}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=Path, required=True)
    dest = ap.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", type=Path, help="bundle directory to write")
    dest.add_argument("--store", type=Path, help="store root: writes ensemble/<version>/ and current")
    ap.add_argument("--train-from", default="2016-01-01")
    ap.add_argument("--train-to", default="2019-03-31")
    ap.add_argument("--valid-from", default="2019-04-15")
    ap.add_argument("--valid-to", default="2019-12-31")
    ap.add_argument("--purge-days", type=int, default=10)
    ap.add_argument("--class-weight", choices=["none", "balanced", "sqrt"], default="sqrt")
    ap.add_argument("--xgb-rounds", type=int, default=100)
    ap.add_argument("--lgb-rounds", type=int, default=200)
    ap.add_argument("--lstm-epochs", type=int, default=4)
    ap.add_argument("--lstm-samples", type=int, default=120_000,
                    help="training windows drawn per epoch (0: all)")
    ap.add_argument("--max-train-rows", type=int, default=0,
                    help="smoke runs: keep only the last N training rows in file order, i.e. "
                         "the alphabetically last tickers (0: all)")
    return ap.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    argv_used = sys.argv[1:] if argv is None else list(argv)
    t_start = time.perf_counter()
    timings = {}
    table = load_features(args.features)
    split = make_split(table, args.train_from, args.train_to, args.valid_from, args.valid_to,
                       args.purge_days)
    train_rows = split.train[-args.max_train_rows:] if args.max_train_rows else split.train
    valid_rows = split.valid
    y_tr, y_va = table.label[train_rows], table.label[valid_rows]
    x_tr, x_va = table.x[train_rows], table.x[valid_rows]
    print(f"features: {len(table)} rows, sha256 {table.sha256[:12]}; train {len(train_rows)} "
          f"{class_counts(y_tr)}, purge {split.purge_trading_days} trading days "
          f"{split.purge_from}..{split.purge_to}, valid {len(valid_rows)} {class_counts(y_va)}")
    cw = class_weights(y_tr, args.class_weight)
    w_tr = cw[y_tr]
    timings["load_seconds"] = round(time.perf_counter() - t_start, 1)

    work = Path(tempfile.mkdtemp(prefix="tft-bundle-"))
    t0 = time.perf_counter()
    booster_x = train_xgboost(x_tr, y_tr, w_tr, args.xgb_rounds)
    onnx.save(t2o.to_tree_ensemble(t2o.forest_from_xgboost(booster_x)), work / MODEL_FILES["xgboost"])
    timings["xgboost_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    booster_l = train_lightgbm(x_tr, y_tr, w_tr, args.lgb_rounds)
    onnx.save(t2o.to_tree_ensemble(t2o.forest_from_lightgbm(booster_l)), work / MODEL_FILES["lightgbm"])
    timings["lightgbm_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"trees: xgboost {timings['xgboost_seconds']} s, lightgbm {timings['lightgbm_seconds']} s")

    mean, std = lstm.normaliser(x_tr)
    cfg = lstm.LstmConfig(seed=SEED, epochs=args.lstm_epochs,
                          samples_per_epoch=args.lstm_samples or None)
    t0 = time.perf_counter()
    probe = valid_rows[:: max(1, len(valid_rows) // 8000)]

    def monitor(p) -> str:
        m = metrics(table.label[probe], lstm.predict(p, mean, std, table.x, probe))
        return f"validation sample ({len(probe)} rows) macro_f1 {m['macro_f1']:.4f}"

    params, lstm_info = lstm.train(table.x, train_rows, y_tr, cw, mean, std, cfg, monitor=monitor)
    onnx.save(lstm_onnx.to_onnx(params, mean, std, SEQ_LEN), work / MODEL_FILES["lstm"])
    timings["lstm_seconds"] = round(time.perf_counter() - t0, 1)

    # Validation, on onnxruntime's outputs of the files.
    t0 = time.perf_counter()
    probs = {"xgboost": ort_trees(work / MODEL_FILES["xgboost"], x_va),
             "lightgbm": ort_trees(work / MODEL_FILES["lightgbm"], x_va),
             "lstm": ort_lstm(work / MODEL_FILES["lstm"], table.x, valid_rows)}
    jax_lstm = lstm.predict(params, mean, std, table.x, valid_rows)
    lstm_diff = float(np.abs(jax_lstm - probs["lstm"]).max())
    native = {"xgboost": booster_x.predict(xgb.DMatrix(x_va)), "lightgbm": booster_l.predict(x_va)}
    tree_diff = {k: float(np.abs(native[k] - probs[k]).max()) for k in native}
    print(f"onnxruntime vs jax (lstm) on {len(valid_rows)} validation windows: max |diff| {lstm_diff:.2e}; "
          f"vs native trees: {', '.join(f'{k} {v:.2e}' for k, v in tree_diff.items())}")
    if lstm_diff > 1e-5 or max(tree_diff.values()) > 1e-5:
        raise SystemExit("exported models disagree with the trained ones beyond 1e-5")
    probs["ensemble"] = ensemble(probs)
    val_metrics = {name: metrics(y_va, p) for name, p in probs.items()}
    timings["validation_seconds"] = round(time.perf_counter() - t0, 1)
    for name in ("lstm", "xgboost", "lightgbm", "ensemble"):
        m = val_metrics[name]
        print(f"  {name:9s} accuracy {m['accuracy']:.4f} macro_f1 {m['macro_f1']:.4f} "
              f"P(BUY)>{BUY_THRESHOLD}: {int(m['buy_count_at_0_70'])} rows, precision "
              f"{m['buy_precision_at_0_70']:.3f}")

    gold_rows = pick_golden_rows(valid_rows, table.label, table.tickers)
    pos = np.searchsorted(valid_rows, gold_rows)
    gold = golden(table, gold_rows, {k: v[pos] for k, v in probs.items()})
    (work / GOLDEN_FILE).write_text(json.dumps(gold, allow_nan=False) + "\n")

    version = version_name(args.valid_to, work)
    manifest = {
        "version": version,
        "feature_schema": {"version": SCHEMA_VERSION, "hash": schema_hash(), "names": FEATURE_NAMES},
        "classes": CLASSES,
        "weights": WEIGHTS,
        "training_window": {"from": args.train_from, "to": args.train_to},
        "validation_window": {"from": args.valid_from, "to": args.valid_to},
        "validation_metrics": val_metrics,
        "models": {name: {"file": f, "sha256": sha256_file(work / f)} for name, f in MODEL_FILES.items()},
        "golden": {"file": GOLDEN_FILE, "sha256": sha256_file(work / GOLDEN_FILE)},
        "training": {
            "command": "uv run python -m tft_models.train " + shlex.join(argv_used),
            "input_csv": {"file": args.features.name, "sha256": table.sha256, "rows": len(table),
                          "export_meta": {k: table.meta.get(k) for k in ("from", "to", "barrier", "tickers")}},
            "rows": {"train": len(train_rows), "validation": len(valid_rows),
                     "train_per_class": class_counts(y_tr), "validation_per_class": class_counts(y_va)},
            "row_rule": f"labelled rows whose ticker has {SEQ_LEN - 1} earlier rows in the export "
                        f"(every model sees the same rows); rows after {args.valid_to} are never used",
            "purge": {"trading_days_required": args.purge_days,
                      "trading_days_between": split.purge_trading_days,
                      "from": str(split.purge_from), "to": str(split.purge_to)},
            "label": "triple barrier +10 % / -5 %, 7 trading days, entry next open, ties = stop",
            "class_weighting": {
                "mode": args.class_weight, "weights": [round(float(v), 6) for v in cw],
                "rule": "sample weight of class k ∝ sqrt(n / (3 n_k)) (sqrt), n / (3 n_k) (balanced) "
                        "or 1 (none), scaled to mean 1",
                "choice": "sqrt: best validation macro-F1 for every model (ensemble 0.444 vs none "
                          "~0.38 for the trees, balanced 0.394); balanced makes P(BUY) > 0.70 common "
                          "(978 ensemble rows) but those rows hit -5 % first 57 % of the time and "
                          "+10 % first 21 % (models/README.md)"},
            "seeds": {"global": SEED, "xgboost": SEED, "lightgbm": SEED, "lstm_init": SEED,
                      "lstm_sampling": SEED, "golden_rows": SEED},
            "threads": THREADS,
            "xgboost": {"objective": "multi:softprob", "max_depth": 6, "learning_rate": 0.1,
                        "rounds": args.xgb_rounds, "trees": 3 * args.xgb_rounds, "tree_method": "hist"},
            "lightgbm": {"objective": "multiclass", "num_leaves": 31, "learning_rate": 0.05,
                         "rounds": args.lgb_rounds, "trees": 3 * args.lgb_rounds, "deterministic": True},
            "lstm": {"layers": list(lstm.HIDDEN), "seq_len": SEQ_LEN, "epochs": cfg.epochs,
                     "batch_size": cfg.batch_size, "samples_per_epoch": cfg.samples_per_epoch,
                     "steps_per_epoch": lstm_info["steps_per_epoch"], "optimizer": "adam",
                     "learning_rate": cfg.learning_rate, "grad_clip_norm": cfg.grad_clip,
                     "loss_per_epoch": [round(v, 6) for v in lstm_info["loss_per_epoch"]],
                     "normalisation": f"in the ONNX graph: clip((x - mean) / std, -{lstm.CLIP}, {lstm.CLIP}), "
                                      "training-set mean/std"},
            "onnx_check": {"lstm_ort_vs_jax_max_abs": lstm_diff,
                           **{f"{k}_ort_vs_native_max_abs": v for k, v in tree_diff.items()},
                           "validation_windows": len(valid_rows)},
            "libraries": library_versions(),
        },
    }
    (work / "manifest.json").write_text(dumps(manifest))
    check_bundle(work)

    if args.out:
        dest = args.out
    else:
        dest = args.store / "ensemble" / version
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(work), dest)
    dest.chmod(0o755)  # mkdtemp made it private
    if args.store:
        (args.store / "ensemble" / "current").write_text(version)
    timings["total_seconds"] = round(time.perf_counter() - t_start, 1)
    size = sum(p.stat().st_size for p in dest.iterdir())
    print(f"bundle {version}: {dest} ({size / 1e6:.2f} MB); timings {json.dumps(timings)}")


if __name__ == "__main__":
    main()
