"""Train the two tree models on real-shaped data, export them to ONNX every way, write goldens.

    uv run python -m tft_models.tree_experiment [--prices DIR] [--out DIR] [--golden DIR]

- XGBoost: multi:softprob, max_depth 6, learning_rate 0.1, 100 rounds (300 trees).
- LightGBM: multiclass, num_leaves 31, learning_rate 0.05, 100 rounds (300 trees).
- Exports (tft_models.trees_to_onnx): tree_ensemble (chosen), gemm, tree_trav, and
  onnxmltools' TreeEnsembleClassifier as a cross-check of the first.
- Checks: the ONNX files under onnxruntime against the boosters' predict_proba.
- Writes `<out>/bench_batch.f32` (500 rows, little-endian float32, row-major) for
  bench_trees.py, and the parity fixtures to `<golden>` (ensemble/tests/golden): the
  tree_ensemble files and onnxruntime's outputs on fixed rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
import xgboost as xgb

ort.set_default_logger_severity(3)  # onnxmltools declares label as [1]: a warning per run

from tft_models import trees_to_onnx as t2o
from tft_models.data import CLASSES, FEATURE_NAMES, load_dataset, schema_hash

ROOT = Path(__file__).resolve().parents[2]  # the repository
SEED = 42
BENCH_ROWS = 500
GOLDEN_ROWS = 64


def train_xgboost(x, y) -> xgb.Booster:
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 6, "eta": 0.1,
              "seed": SEED, "nthread": 2, "tree_method": "hist"}
    return xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=100)


def train_lightgbm(x, y) -> lgb.Booster:
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 31, "learning_rate": 0.05,
              "seed": SEED, "deterministic": True, "num_threads": 2, "verbose": -1}
    return lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=100)


def ort_run(path: Path, x: np.ndarray, chunk: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = [sess.run(["label", "probabilities"], {"input": x[i: i + chunk]}) for i in range(0, len(x), chunk)]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def onnxmltools_export(model, kind: str, n_features: int) -> onnx.ModelProto | None:
    try:
        from onnxmltools import convert_lightgbm, convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError:
        return None
    init = [("input", FloatTensorType([None, n_features]))]
    try:
        if kind == "xgboost":
            return convert_xgboost(model, initial_types=init, target_opset=15)
        return convert_lightgbm(model, initial_types=init, target_opset=15, zipmap=False)
    except Exception as err:  # noqa: BLE001 - a cross-check only
        print(f"  onnxmltools could not convert the {kind} model: {err}")
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prices", type=Path, default=ROOT.parent / "shared/data/prices/daily")
    ap.add_argument("--out", type=Path, default=ROOT / "models/artifacts/trees")
    ap.add_argument("--golden", type=Path, default=ROOT / "ensemble/tests/golden")
    ap.add_argument("--tickers", type=int, default=60)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.golden.mkdir(parents=True, exist_ok=True)
    assert schema_hash() == "dd6fbf11d7d7b069"

    x, y = load_dataset(args.prices, args.tickers)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(x))
    test = order[: len(x) // 5]
    train = order[len(x) // 5:]
    print(f"data: {x.shape[0]} rows x {x.shape[1]} features, classes {np.bincount(y).tolist()}")

    bench = x[test[:BENCH_ROWS]]
    bench.astype("<f4").tofile(args.out / "bench_batch.f32")
    golden_x = x[test[BENCH_ROWS: BENCH_ROWS + GOLDEN_ROWS]]

    report = {}
    for kind, train_fn in (("xgboost", train_xgboost), ("lightgbm", train_lightgbm)):
        model = train_fn(x[train], y[train])
        # Checked on every row of the data set (train and test), not only the bench batch.
        if kind == "xgboost":
            forest = t2o.forest_from_xgboost(model)
            native = model.predict(xgb.DMatrix(x))
            native_margin = model.predict(xgb.DMatrix(x), output_margin=True)
        else:
            forest = t2o.forest_from_lightgbm(model)
            native = model.predict(x)
            native_margin = model.predict(x, raw_score=True)
        ir_margin = forest.margins(x)
        depth = max(t.depth() for t in forest.trees)
        n_nodes = sum(len(t.feature) for t in forest.trees)
        print(f"{kind}: {len(forest.trees)} trees, {n_nodes} nodes, max depth {depth}; "
              f"IR margins vs native: max |diff| {np.abs(ir_margin - native_margin).max():.2e}")
        entry = {"trees": len(forest.trees), "nodes": n_nodes, "max_depth": depth, "files": {}}
        variants = {name: fn(forest) for name, fn in t2o.EXPORTS.items()}
        mlt = onnxmltools_export(model, kind, x.shape[1])
        if mlt is not None:
            variants["onnxmltools"] = mlt
        for name, proto in variants.items():
            path = args.out / f"{kind}_{name}.onnx"
            onnx.save(proto, path)
            label, proba = ort_run(path, x)
            diff = float(np.abs(proba - native).max())
            agree = float((label == native.argmax(1)).mean())
            big = int((np.abs(proba - native).max(1) > 1e-5).sum())
            entry["files"][name] = {"path": str(path.relative_to(ROOT)), "bytes": path.stat().st_size,
                                    "ort_vs_native_max_abs": diff, "rows_over_1e-5": big,
                                    "label_agreement": agree}
            print(f"  {name:13s} {path.stat().st_size / 1e6:6.2f} MB  onnxruntime vs native "
                  f"predict_proba on {len(x)} rows: max |diff| {diff:.2e}, rows > 1e-5: {big}, "
                  f"labels {agree:.5f}")
        report[kind] = entry

        # Golden fixtures: the chosen export and onnxruntime's outputs on fixed rows.
        gpath = args.golden / f"{kind}.onnx"
        onnx.save(variants["tree_ensemble"], gpath)
        label, proba = ort_run(gpath, golden_x)
        golden = {
            "model": gpath.name,
            "sha256": hashlib.sha256(gpath.read_bytes()).hexdigest(),
            "schema_hash": schema_hash(),
            "feature_names": FEATURE_NAMES,
            "classes": CLASSES,
            "producer": f"onnxruntime {ort.__version__}",
            "input": [[float(v) for v in row] for row in golden_x],
            "label": label.tolist(),
            "probabilities": [[float(v) for v in row] for row in proba],
        }
        (args.golden / f"{kind}.json").write_text(json.dumps(golden) + "\n")
        print(f"  golden: {gpath} ({gpath.stat().st_size / 1e6:.2f} MB) + {kind}.json")

    (args.out / "experiment.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
