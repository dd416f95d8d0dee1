"""Benchmark: `tft` indicators vs TA-Lib on the same tickers (not a test).

    cargo build --release -p tft
    cd tools && uv run python bench/indicators_vs_talib.py [--tft ../target/release/tft] [--data DIR]

Loads every <TICKER>.csv of DIR (default ../shared/data/prices/daily beside the repo)
into memory, times TA-Lib computing the same set as `tft indicators` (RSI 14,
MACD 12/26/9, BBANDS 20/2 SMA, SMA 50, SMA 200, volume SMA 20 and the volume ratio)
over all of them (best of --repeats passes), then runs `tft bench-indicators --dir DIR`,
which loads the same files and times only its computation (best of its own repeats).
Prints both times and the ratio rust/talib; builds nothing itself.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import time
import os
import shutil
import sys
from pathlib import Path

try:
    import talib
except ImportError:  # not run from the tools venv: run again through uv, once
    if shutil.which("uv") and not os.environ.get("TFT_TOOLS_UV"):
        os.environ["TFT_TOOLS_UV"] = "1"
        tools = Path(__file__).resolve().parents[1]
        os.execvp("uv", ["uv", "run", "--quiet", "--project", str(tools), "python", sys.argv[0], *sys.argv[1:]])
    raise SystemExit("TA-Lib is missing: pip install uv, then cd tools && uv sync")

import numpy as np
import talib

REPO = Path(__file__).resolve().parents[2]


def load(data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    series = []
    for path in sorted(data.glob("*.csv")):
        close, volume = [], []
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                close.append(float(row["Close"]))
                volume.append(float(row["Volume"]))
        series.append((np.array(close, dtype=np.float64), np.array(volume, dtype=np.float64)))
    return series


def talib_pass(series: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for close, volume in series:
        talib.RSI(close, timeperiod=14)
        talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
        talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=talib.MA_Type.SMA)
        talib.SMA(close, timeperiod=50)
        talib.SMA(close, timeperiod=200)
        average = talib.SMA(volume, timeperiod=20)
        np.divide(volume, average, out=np.full_like(volume, np.nan), where=average > 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tft_pos", nargs="?", type=Path, help="tft binary (same as --tft)")
    parser.add_argument("--tft", type=Path, default=REPO / "target" / "release" / "tft")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "prices" / "daily")
    parser.add_argument("--repeats", type=int, default=20, help="TA-Lib passes (best is kept)")
    args = parser.parse_args()
    tft = args.tft_pos or args.tft
    if not tft.exists():
        print(f"no tft binary at {tft}: build it with `cargo build --release -p tft`", file=sys.stderr)
        return 2

    series = load(args.data)
    bars = sum(len(c) for c, _ in series)
    talib_pass(series)  # warm-up
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        talib_pass(series)
        best = min(best, time.perf_counter() - start)

    result = subprocess.run(
        [str(tft), "bench-indicators", "--dir", str(args.data)], capture_output=True, text=True, check=True
    )
    line = [l for l in result.stdout.splitlines() if l.startswith("{")][-1]
    rust = json.loads(line)
    if (rust["tickers"], rust["bars"]) != (len(series), bars):
        print(f"tft saw {rust['tickers']} tickers / {rust['bars']} bars, TA-Lib {len(series)} / {bars}", file=sys.stderr)
        return 1

    ratio = rust["seconds"] / best
    print(f"data: {len(series)} tickers, {bars} bars ({args.data})")
    print(f"TA-Lib {talib.__version__} (C {talib.__ta_version__.decode()}), numpy {np.__version__}, Python {platform.python_version()}")
    print(f"talib: {best * 1e3:8.2f} ms  (best of {args.repeats})")
    print(f"tft:   {rust['seconds'] * 1e3:8.2f} ms  (tft bench-indicators: {line})")
    print(f"ratio rust/talib: {ratio:.2f}x")
    print(json.dumps({"tickers": len(series), "bars": bars, "talib_seconds": best, "rust_seconds": rust["seconds"], "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
