"""One function that trains the three models, calibrates them and writes a verified bundle:
`tft_models.train` (the weekly retrain) and `tft_models.folds` (the walk-forward fold
server) both call `build_bundle`, so a fold's bundle is the served bundle's format.

Steps: the split (training rows, purge >= label horizon, calibration slice); XGBoost,
LightGBM and the LSTM on the training rows (the LSTM optionally warm-started from a
previous bundle's `lstm_state.npz`); ONNX export; onnxruntime's outputs of the files on the
calibration slice (checked against the trained models to 1e-5); per model, isotonic
calibration per class fitted on those outputs (calibration.py); metrics of the calibrated
probabilities (`validation_metrics`: the store's promotion reads macro_f1 there), Brier
score and reliability before/after, the mean net return of each exit kind
(`expected_returns`), the golden file, the manifest; `check_bundle`.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
import xgboost as xgb

from tft_models import calibration, lstm, lstm_onnx
from tft_models import trees_to_onnx as t2o
from tft_models.dataset import CLASSES, SEQ_LEN, FeatureTable, class_counts, label_horizon, make_split, windows
from tft_models.manifest import (
    GOLDEN_FILE,
    LSTM_STATE_FILE,
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
MODELS = ("lstm", "xgboost", "lightgbm")


@dataclass
class TrainConfig:
    train_from: str
    train_to: str
    calibrate_from: str
    calibrate_to: str
    purge_days: int = 10
    class_weight: str = "sqrt"
    xgb_rounds: int = 100
    lgb_rounds: int = 200
    lstm_epochs: int = 4
    lstm_samples: int = 120_000  # training windows drawn per epoch (0: all)
    max_train_rows: int = 0  # 0: all; else a seeded random subset of the training rows
    warm_start: str | None = None  # a previous bundle directory (its lstm_state.npz)
    golden_rows: int = 64


def class_weights(y: np.ndarray, mode: str) -> np.ndarray:
    counts = np.bincount(y, minlength=3).astype(np.float64)
    counts = np.maximum(counts, 1.0)  # a class absent from a tiny training set
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


def vote(probs: dict[str, np.ndarray]) -> np.ndarray:
    """Σ weight × p in float64, in the order lstm, xgboost, lightgbm."""
    out = np.zeros(probs["lstm"].shape, dtype=np.float64)
    for name in MODELS:
        out = out + WEIGHTS[name] * probs[name].astype(np.float64)
    return out


def pick_golden_rows(rows: np.ndarray, labels: np.ndarray, tickers: np.ndarray, n: int) -> np.ndarray:
    """`n` calibration rows: about a third of each label, spread over tickers, fixed by the seed."""
    rng = np.random.default_rng(SEED)
    picked = []
    per = [n // 3, n - 2 * (n // 3), n // 3]
    for cls, k in zip((0, 1, 2), per):
        cand = rows[labels[rows] == cls]
        picked.extend(rng.choice(cand, size=min(k, len(cand)), replace=False).tolist())
    picked = np.array(sorted(picked), dtype=np.int64)
    spread = min(8, len(np.unique(tickers[rows])))
    assert len(np.unique(tickers[picked])) >= spread, "golden rows should span several tickers"
    return picked


def f32_json(v: np.float32) -> float:
    """The shortest decimal that reads back as the same float32."""
    return float(str(np.float32(v)))


def golden(table: FeatureTable, rows: np.ndarray, raw: dict[str, np.ndarray],
           calibrated: dict[str, np.ndarray]) -> dict:
    seqs = windows(table.x, rows)
    seq_json = [[[f32_json(v) for v in day] for day in s] for s in seqs]
    back = np.array(seq_json, dtype=np.float64).astype(np.float32)
    assert np.array_equal(back, seqs), "golden sequences do not round-trip through f64 -> f32"

    def table_of(probs):
        return {name: [[float(p) for p in row] for row in probs[name]] for name in (*MODELS, "ensemble")}

    return {
        "schema_hash": table.schema_hash,
        "feature_names": table.feature_names,
        "classes": CLASSES,
        "seq_len": SEQ_LEN,
        "rows": [{"ticker": str(table.tickers[r]), "date": str(table.dates[r])} for r in rows],
        "sequences": seq_json,
        "outputs": table_of(calibrated),
        "raw_outputs": table_of(raw),
    }


def expected_returns(table: FeatureTable, rows: np.ndarray, cfg: TrainConfig) -> dict | None:
    """Mean realised net return (costs included) of the slice's trades by how they ended:
    stop (label 0), time-out or sentiment flip (1), target (2). None for the old export
    (no net_return column) or when a kind has no trade in the slice."""
    if not table.has_trades:
        return None
    y, r = table.label[rows], table.net_return[rows]
    ok = np.isfinite(r)
    out, counts = {}, {}
    for k, name in ((1, "timeout"), (2, "target"), (0, "stop")):
        sel = ok & (y == k)
        if not sel.any():
            return None
        out[name] = round(float(r[sel].mean()), 8)
        counts[name] = int(sel.sum())
    stop, target = table.stop_pct[rows][ok], table.target_pct[rows][ok]
    out["rows"] = counts
    out["mean_stop_pct"] = round(float(np.nanmean(stop)), 8) if np.isfinite(stop).any() else 0.0
    out["mean_target_pct"] = round(float(np.nanmean(target)), 8) if np.isfinite(target).any() else 0.0
    out["window"] = {"from": cfg.calibrate_from, "to": cfg.calibrate_to}
    out["rule"] = ("mean net_return (after costs) of the calibration slice's labelled trades by "
                   "exit: timeout = label 1 (time-out or sentiment flip), target = 2, stop = 0")
    return out


def library_versions() -> dict:
    names = ["numpy", "xgboost-cpu", "lightgbm", "jax", "jaxlib", "optax", "onnx", "onnxruntime"]
    return {"python": platform.python_version(), **{n: pkg_version(n) for n in names}}


def build_bundle(table: FeatureTable, cfg: TrainConfig, command: str, log=print) -> tuple[Path, dict, dict]:
    """Trains, calibrates and writes a checked bundle into a fresh temporary directory.
    Returns (directory, manifest, seconds per step: wall, and `<step>_cpu` = CPU seconds of
    the process, all threads). Same table and config: same files."""
    t_start, c_start = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}
    split = make_split(table, cfg.train_from, cfg.train_to, cfg.calibrate_from, cfg.calibrate_to,
                       cfg.purge_days)
    train_rows = split.train
    if cfg.max_train_rows and len(train_rows) > cfg.max_train_rows:
        rng = np.random.default_rng(SEED)
        train_rows = np.sort(rng.choice(train_rows, size=cfg.max_train_rows, replace=False))
    cal_rows = split.calibrate
    y_tr, y_ca = table.label[train_rows], table.label[cal_rows]
    x_tr, x_ca = table.x[train_rows], table.x[cal_rows]
    log(f"features: {len(table)} rows, sha256 {table.sha256[:12]}; train {len(train_rows)} "
        f"{class_counts(y_tr)}, purge {split.purge_trading_days} trading days "
        f"{split.purge_from}..{split.purge_to}, calibrate {len(cal_rows)} {class_counts(y_ca)}")
    cw = class_weights(y_tr, cfg.class_weight)
    w_tr = cw[y_tr]

    work = Path(tempfile.mkdtemp(prefix="tft-bundle-"))
    t0, c0 = time.perf_counter(), time.process_time()
    booster_x = train_xgboost(x_tr, y_tr, w_tr, cfg.xgb_rounds)
    onnx.save(t2o.to_tree_ensemble(t2o.forest_from_xgboost(booster_x)), work / MODEL_FILES["xgboost"])
    timings["xgboost"] = round(time.perf_counter() - t0, 2)
    timings["xgboost_cpu"] = round(time.process_time() - c0, 2)
    t0, c0 = time.perf_counter(), time.process_time()
    booster_l = train_lightgbm(x_tr, y_tr, w_tr, cfg.lgb_rounds)
    onnx.save(t2o.to_tree_ensemble(t2o.forest_from_lightgbm(booster_l)), work / MODEL_FILES["lightgbm"])
    timings["lightgbm"] = round(time.perf_counter() - t0, 2)
    timings["lightgbm_cpu"] = round(time.process_time() - c0, 2)

    init = None
    if cfg.warm_start:
        init, mean, std = lstm.load_state(Path(cfg.warm_start) / LSTM_STATE_FILE)
        if mean.shape != (table.x.shape[1],):
            raise ValueError(f"warm start {cfg.warm_start} has {mean.shape[0]} features, the export "
                             f"{table.x.shape[1]}")
    else:
        mean, std = lstm.normaliser(x_tr)
    lcfg = lstm.LstmConfig(seed=SEED, epochs=cfg.lstm_epochs, samples_per_epoch=cfg.lstm_samples or None)
    t0, c0 = time.perf_counter(), time.process_time()
    params, lstm_info = lstm.train(table.x, train_rows, y_tr, cw, mean, std, lcfg, log=log, init=init)
    onnx.save(lstm_onnx.to_onnx(params, mean, std, SEQ_LEN), work / MODEL_FILES["lstm"])
    lstm.save_state(work / LSTM_STATE_FILE, params, mean, std)
    timings["lstm"] = round(time.perf_counter() - t0, 2)
    timings["lstm_cpu"] = round(time.process_time() - c0, 2)
    log(f"trained: xgboost {timings['xgboost']} s, lightgbm {timings['lightgbm']} s, "
        f"lstm {timings['lstm']} s{' (warm start)' if init is not None else ''}")

    # The calibration slice, on onnxruntime's outputs of the files.
    t0, c0 = time.perf_counter(), time.process_time()
    raw = {"xgboost": ort_trees(work / MODEL_FILES["xgboost"], x_ca),
           "lightgbm": ort_trees(work / MODEL_FILES["lightgbm"], x_ca),
           "lstm": ort_lstm(work / MODEL_FILES["lstm"], table.x, cal_rows)}
    lstm_diff = float(np.abs(lstm.predict(params, mean, std, table.x, cal_rows) - raw["lstm"]).max())
    native = {"xgboost": booster_x.predict(xgb.DMatrix(x_ca)), "lightgbm": booster_l.predict(x_ca)}
    tree_diff = {k: float(np.abs(native[k] - raw[k]).max()) for k in native}
    if lstm_diff > 1e-5 or max(tree_diff.values()) > 1e-5:
        raise RuntimeError(f"exported models disagree with the trained ones beyond 1e-5: lstm "
                           f"{lstm_diff:.2e}, trees {tree_diff}")
    maps = {name: calibration.fit_model(raw[name], y_ca) for name in MODELS}
    cal = {name: calibration.apply(maps[name], raw[name]) for name in MODELS}
    raw["ensemble"], cal["ensemble"] = vote(raw), vote(cal)
    cal_metrics = {name: metrics(y_ca, p) for name, p in cal.items()}
    raw_metrics = {name: metrics(y_ca, p) for name, p in raw.items()}
    diag = {name: calibration.diagnostics(y_ca, raw[name], cal[name]) for name in (*MODELS, "ensemble")}
    timings["calibration"] = round(time.perf_counter() - t0, 2)
    timings["calibration_cpu"] = round(time.process_time() - c0, 2)
    for name in (*MODELS, "ensemble"):
        m = cal_metrics[name]
        log(f"  {name:9s} macro_f1 {raw_metrics[name]['macro_f1']:.4f} -> {m['macro_f1']:.4f}, "
            f"brier {diag[name]['before']['brier']:.4f} -> {diag[name]['after']['brier']:.4f}, "
            f"log_loss {raw_metrics[name]['log_loss']:.4f} -> {m['log_loss']:.4f}, "
            f"P(BUY)>{BUY_THRESHOLD}: {int(m['buy_count_at_0_70'])} rows")

    gold_rows = pick_golden_rows(cal_rows, table.label, table.tickers, cfg.golden_rows)
    pos = np.searchsorted(cal_rows, gold_rows)
    gold = golden(table, gold_rows, {k: v[pos] for k, v in raw.items()}, {k: v[pos] for k, v in cal.items()})
    (work / GOLDEN_FILE).write_text(json.dumps(gold, allow_nan=False) + "\n")

    calibration_block = {
        "method": "isotonic",
        "rule": f"per model and class: PAV isotonic on the calibration slice's onnxruntime outputs, "
                f"knots at block means, adjacent blocks pooled while a slope exceeds "
                f"{calibration.MAX_SLOPE}; applied as np.interp (clamped at the ends), the three "
                f"values renormalised to sum 1 (raw p if they sum to 0); the vote is over "
                f"calibrated probabilities",
        "max_slope": calibration.MAX_SLOPE,
        "models": maps,
        "diagnostics": {name: {**diag[name], "raw_metrics": raw_metrics[name]}
                        for name in (*MODELS, "ensemble")},
    }
    version = version_name(cfg.calibrate_to, work, maps)
    manifest = {
        "version": version,
        "feature_schema": {"version": table.schema_version, "hash": table.schema_hash,
                           "names": table.feature_names},
        "classes": CLASSES,
        "weights": WEIGHTS,
        "training_window": {"from": cfg.train_from, "to": cfg.train_to},
        # The calibration slice: the store's promotion and the backtest's overlap check read
        # this key (no separate validation window any more).
        "validation_window": {"from": cfg.calibrate_from, "to": cfg.calibrate_to},
        "validation_metrics": cal_metrics,
        "models": {name: {"file": f, "sha256": sha256_file(work / f)} for name, f in MODEL_FILES.items()},
        "golden": {"file": GOLDEN_FILE, "sha256": sha256_file(work / GOLDEN_FILE)},
        "calibration": calibration_block,
    }
    er = expected_returns(table, cal_rows, cfg)
    if er is not None:
        manifest["expected_returns"] = er
    else:
        log("expected_returns: not written (no net_return column, or an exit kind has no trade in the slice)")
    manifest["training"] = {
        "command": command,
        "config": asdict(cfg),
        "input_csv": {"sha256": table.sha256, "rows": len(table),
                      "export_meta": {k: table.meta.get(k) for k in ("from", "to", "barrier", "tickers")},
                      "trade_columns": table.has_trades},
        "rows": {"train": len(train_rows), "calibration": len(cal_rows),
                 "train_per_class": class_counts(y_tr), "calibration_per_class": class_counts(y_ca)},
        "row_rule": f"labelled rows whose ticker has {SEQ_LEN - 1} earlier rows in the export "
                    f"(every model sees the same rows); rows after {cfg.calibrate_to} are never used",
        "purge": {"trading_days_required": cfg.purge_days, "label_horizon": label_horizon(table),
                  "trading_days_between": split.purge_trading_days,
                  "from": str(split.purge_from), "to": str(split.purge_to),
                  "calibration_labels_read_to": split.labels_read_to},
        "label": "0 = stop reached first, 1 = time-out or sentiment flip, 2 = target reached "
                 "(export meta `barrier`)",
        "class_weighting": {
            "mode": cfg.class_weight, "weights": [round(float(v), 6) for v in cw],
            "rule": "sample weight of class k ∝ sqrt(n / (3 n_k)) (sqrt), n / (3 n_k) (balanced) "
                    "or 1 (none), scaled to mean 1; calibration then maps the weighted models' "
                    "probabilities back to observed frequencies"},
        "seeds": {"global": SEED, "xgboost": SEED, "lightgbm": SEED, "lstm_init": SEED,
                  "lstm_sampling": SEED, "golden_rows": SEED, "train_row_subsample": SEED},
        "threads": THREADS,
        "xgboost": {"objective": "multi:softprob", "max_depth": 6, "learning_rate": 0.1,
                    "rounds": cfg.xgb_rounds, "trees": 3 * cfg.xgb_rounds, "tree_method": "hist"},
        "lightgbm": {"objective": "multiclass", "num_leaves": 31, "learning_rate": 0.05,
                     "rounds": cfg.lgb_rounds, "trees": 3 * cfg.lgb_rounds, "deterministic": True},
        "lstm": {"layers": list(lstm.HIDDEN), "seq_len": SEQ_LEN, "epochs": lcfg.epochs,
                 "batch_size": lcfg.batch_size, "samples_per_epoch": lcfg.samples_per_epoch,
                 "steps_per_epoch": lstm_info["steps_per_epoch"], "optimizer": "adam",
                 "learning_rate": lcfg.learning_rate, "grad_clip_norm": lcfg.grad_clip,
                 "warm_start": cfg.warm_start,
                 "loss_per_epoch": [round(v, 6) for v in lstm_info["loss_per_epoch"]],
                 "normalisation": f"in the ONNX graph: clip((x - mean) / std, -{lstm.CLIP}, {lstm.CLIP}), "
                                  "training-set mean/std (the warm start's when warm-started)",
                 "state_file": f"{LSTM_STATE_FILE} (parameters and normaliser for the next warm "
                               "start; not served)"},
        "onnx_check": {"lstm_ort_vs_jax_max_abs": lstm_diff,
                       **{f"{k}_ort_vs_native_max_abs": v for k, v in tree_diff.items()},
                       "calibration_windows": len(cal_rows)},
        "libraries": library_versions(),
    }
    (work / "manifest.json").write_text(dumps(manifest))
    check_bundle(work)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    timings["total_cpu"] = round(time.process_time() - c_start, 2)
    return work, manifest, timings


def install(work: Path, dest: Path) -> Path:
    """Moves a built bundle to `dest` (replacing it)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(work), dest)
    dest.chmod(0o755)  # mkdtemp made it private
    return dest
