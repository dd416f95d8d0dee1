"""tract vs onnxruntime on the same ONNX files and the same 500-row batch, in one run.

    cd models && uv run python bench_trees.py [--variants tree_ensemble,gemm,tree_trav] [--stock]

Needs the files of `uv run python -m tft_models.tree_experiment` (models/artifacts/trees/).
Builds and runs `cargo run --release -p ensemble --example bench_trees` (tract, one thread),
times onnxruntime (default threads, and one thread) on the same files and batch, checks that
tract's probabilities equal onnxruntime's, and prints the ratio tract / onnxruntime.
`--stock` also times tract's own TreeEnsembleClassifier on the tree_ensemble files (one run
each: over a minute per model).
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
ART = ROOT / "models/artifacts/trees"
N_FEATURES = 31


def time_ort(path: Path, x: np.ndarray, threads: int, runs: int) -> tuple[float, np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    proba = sess.run(["probabilities"], {"input": x})[0]  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(["probabilities"], {"input": x})
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), proba


def run_tract(paths: list[Path], batch: Path, runs: int, out: Path, stock: bool) -> dict[str, dict]:
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "ensemble", "--example", "bench_trees", "--",
           "--batch", str(batch), "--features", str(N_FEATURES), "--runs", str(runs), "--out", str(out)]
    if stock:
        cmd.append("--stock")
    res = subprocess.run(cmd + [str(p) for p in paths], cwd=ROOT, check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {Path(r["model"]).name: r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="tree_ensemble,gemm,tree_trav,onnxmltools")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--stock", action="store_true", help="also time tract's stock tree operator")
    args = ap.parse_args()

    batch_path = ART / "bench_batch.f32"
    x = np.fromfile(batch_path, dtype="<f4").reshape(-1, N_FEATURES)
    variants = args.variants.split(",")
    paths = [ART / f"{m}_{v}.onnx" for v in variants for m in ("xgboost", "lightgbm")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        tract = run_tract(paths, batch_path, args.runs, out, stock=False)
        outputs = {p.name: np.fromfile(out / f"{p.stem}.tract.f32", dtype="<f4") for p in paths}
        stock = {}
        if args.stock and "tree_ensemble" in variants:
            te = [p for p in paths if p.stem.endswith("tree_ensemble")]
            stock = run_tract(te, batch_path, 0, out, stock=True)
            for p in te:
                stock[p.name]["output"] = np.fromfile(out / f"{p.stem}.tract.f32", dtype="<f4")

    print(f"batch: {x.shape[0]} rows x {x.shape[1]} features; onnxruntime {ort.__version__}, "
          f"median of {args.runs} runs; tract on one thread")
    header = (f"{'file':32s} {'MB':>5s} {'tract ms':>9s} {'ort ms':>7s} {'ort-1t ms':>9s} "
              f"{'tract/ort':>9s} {'tract/ort-1t':>12s} {'max|diff|':>9s}")
    print(header)
    results = []
    for p in paths:
        ort_ms, proba = time_ort(p, x, 0, args.runs)
        ort1_ms, _ = time_ort(p, x, 1, args.runs)
        t = tract[p.name]
        diff = float(np.abs(outputs[p.name].reshape(proba.shape) - proba).max())
        row = {"file": p.name, "bytes": p.stat().st_size, "tract_ms": t["median_ms"],
               "tract_first_ms": t["first_ms"], "tract_load_ms": t["load_ms"], "ort_ms": ort_ms,
               "ort_1thread_ms": ort1_ms, "max_abs_diff": diff}
        results.append(row)
        print(f"{p.name:32s} {p.stat().st_size / 1e6:5.2f} {t['median_ms']:9.2f} {ort_ms:7.2f} "
              f"{ort1_ms:9.2f} {t['median_ms'] / ort_ms:9.2f} {t['median_ms'] / ort1_ms:12.2f} {diff:9.1e}")
        if p.name in stock:
            s = stock[p.name]
            sdiff = float(np.abs(s["output"].reshape(proba.shape) - proba).max())
            row["tract_stock_ms"] = s["first_ms"]
            row["tract_stock_max_abs_diff"] = sdiff
            print(f"{'  (tract stock operator)':32s} {'':5s} {s['first_ms']:9.0f} {ort_ms:7.2f} {ort1_ms:9.2f} "
                  f"{s['first_ms'] / ort_ms:9.0f} {s['first_ms'] / ort1_ms:12.0f} {sdiff:9.1e}")
    (ART / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    worst = max(r["max_abs_diff"] for r in results)
    print(f"max |tract - onnxruntime| over all files: {worst:.1e} ({'ok' if worst <= 1e-5 else 'FAIL'} at 1e-5)")


if __name__ == "__main__":
    main()
