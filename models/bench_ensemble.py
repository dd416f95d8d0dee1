"""tract vs onnxruntime on the three ONNX files of the served bundle and the same 500-window
batch, in one run (issue 4: goal tract <= 1.5x onnxruntime).

    cd models && uv run python bench_ensemble.py [--store store] [--rows 500] [--runs 30]

The batch: 500 feature windows [500, 30, 31] drawn from the bundle's golden windows (real
feature rows of the training data) with 1 % of each feature's spread added as noise
(seed 42), so the rows differ. The LSTM reads the windows, XGBoost and LightGBM each
window's last row, as the ensemble serves them. Builds and runs
`cargo run --release -p ensemble --example bench_ensemble` (tract, one thread), times
onnxruntime with its default threads and with one thread, checks tract's probabilities
against onnxruntime's, prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
SEQ, N_FEATURES = 30, 31


def bundle_dir(store: Path) -> Path:
    version = (store / "ensemble/current").read_text().strip()
    return store / "ensemble" / version


def make_batch(bundle: Path, rows: int) -> np.ndarray:
    golden = json.loads((bundle / "golden.json").read_text())
    seqs = np.asarray(golden["sequences"], dtype=np.float32)
    rng = np.random.default_rng(42)
    pick = rng.integers(0, len(seqs), size=rows)
    spread = seqs.reshape(-1, N_FEATURES).std(axis=0)
    noise = rng.normal(size=(rows, SEQ, N_FEATURES)) * 0.01 * spread
    return (seqs[pick] + noise).astype(np.float32)


def time_ort(path: Path, x: np.ndarray, threads: int, runs: int) -> tuple[float, float, np.ndarray]:
    """Median and min ms of `runs`, and the probabilities."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    proba = sess.run(["probabilities"], {name: x})[0]  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(["probabilities"], {name: x})
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), float(np.min(times)), proba


def run_tract(store: Path, batch: Path, runs: int, out: Path) -> dict[tuple[str, bool], dict]:
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "ensemble", "--example", "bench_ensemble", "--",
           "--store", str(store), "--batch", str(batch), "--runs", str(runs), "--out", str(out)]
    res = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {(r["model"], r.get("served", False)): r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=ROOT / "models/store")
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    store = args.store.resolve()
    bundle = bundle_dir(store)
    manifest = json.loads((bundle / "manifest.json").read_text())
    x = make_batch(bundle, args.rows)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        batch_path = out / "windows.f32"
        x.astype("<f4").tofile(batch_path)
        tract = run_tract(store, batch_path, args.runs, out)
        outputs = {m: np.fromfile(out / f"{m}.tract.f32", dtype="<f4") for m in manifest["models"]}

    print(f"bundle {manifest['version']}; batch: {args.rows} windows x {SEQ} days x {N_FEATURES} features; "
          f"onnxruntime {ort.__version__}; ms as median / min of {args.runs} runs; tract on one thread")
    print("tract batch: the 500 rows in one run; tract served: as the ensemble runs them "
          "(LSTM in chunks of 64, padded); ratios: tract served / ort, on medians and on minima")
    print(f"{'model':9s} {'tract batch':>13s} {'tract served':>13s} {'ort (default)':>13s} {'ort 1 thread':>13s} "
          f"{'/ort med|min':>13s} {'/ort-1t med|min':>16s} {'max|diff|':>9s}")
    results = []
    ort_sum = np.zeros(2)
    ort1_sum = np.zeros(2)
    for model, ref in manifest["models"].items():
        path = bundle / ref["file"]
        inputs = np.ascontiguousarray(x if model == "lstm" else x[:, -1, :])
        ort_med, ort_min, proba = time_ort(path, inputs, 0, args.runs)
        ort1_med, ort1_min, _ = time_ort(path, inputs, 1, args.runs)
        ort_sum += (ort_med, ort_min)
        ort1_sum += (ort1_med, ort1_min)
        b, sv = tract[(model, False)], tract[(model, True)]
        diff = float(np.abs(outputs[model].reshape(proba.shape) - proba).max())
        row = {"model": model, "tract_batch_ms": b["median_ms"], "tract_batch_min_ms": b["min_ms"],
               "tract_served_ms": sv["median_ms"], "tract_served_min_ms": sv["min_ms"],
               "tract_load_ms": b["load_ms"], "ort_ms": ort_med, "ort_min_ms": ort_min,
               "ort_1thread_ms": ort1_med, "ort_1thread_min_ms": ort1_min, "max_abs_diff": diff}
        results.append(row)
        print(f"{model:9s} {b['median_ms']:6.2f}|{b['min_ms']:6.2f} {sv['median_ms']:6.2f}|{sv['min_ms']:6.2f} "
              f"{ort_med:6.2f}|{ort_min:6.2f} {ort1_med:6.2f}|{ort1_min:6.2f} "
              f"{sv['median_ms'] / ort_med:6.2f}|{sv['min_ms'] / ort_min:6.2f} "
              f"{sv['median_ms'] / ort1_med:8.2f}|{sv['min_ms'] / ort1_min:6.2f} {diff:9.1e}")
    e = tract[("ensemble", True)]
    print(f"{'ensemble':9s} {'':13s} {e['median_ms']:6.2f}|{e['min_ms']:6.2f} "
          f"{ort_sum[0]:6.2f}|{ort_sum[1]:6.2f} {ort1_sum[0]:6.2f}|{ort1_sum[1]:6.2f} "
          f"{e['median_ms'] / ort_sum[0]:6.2f}|{e['min_ms'] / ort_sum[1]:6.2f} "
          f"{e['median_ms'] / ort1_sum[0]:8.2f}|{e['min_ms'] / ort1_sum[1]:6.2f}")
    print("  (ensemble: tract Ensemble::predict_windows = 3 models + vote; ort = sum of the 3 sessions)")
    worst = max(r["max_abs_diff"] for r in results)
    print(f"max |tract - onnxruntime|: {worst:.1e} ({'ok' if worst <= 1e-5 else 'FAIL'} at 1e-5)")
    print(json.dumps({"results": results, "ensemble_ms": e["median_ms"], "ensemble_min_ms": e["min_ms"],
                      "ensemble_load_ms": e["load_ms"]}))


if __name__ == "__main__":
    main()
