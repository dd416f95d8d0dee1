"""TA-Lib reference values for the indicators `tft` computes (shared by the golden
generator and the CLI check).

Definitions (TA-Lib defaults, unstable period 0, default compatibility):
rsi_14 = RSI(close, 14); macd, macd_signal, macd_hist = MACD(close, 12, 26, 9);
bb_upper, bb_middle, bb_lower = BBANDS(close, 20, 2, 2, SMA); sma_50, sma_200 = SMA(close, 50 / 200);
volume_sma_20 = SMA(volume, 20); volume_ratio = volume / volume_sma_20, NaN where that average is 0.
"""

from __future__ import annotations

import csv
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

# Output columns of `tft indicators`, in order (after date, close).
COLUMNS = [
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "sma_50",
    "sma_200",
    "volume_ratio",
]

# |rust - talib| <= REL_TOL * max(1, |talib|), and undefined exactly where TA-Lib is NaN.
REL_TOL = 1e-9


def reference(close: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]:
    """TA-Lib's values; NaN where TA-Lib gives NaN (and where the volume average is 0)."""
    close = np.ascontiguousarray(close, dtype=np.float64)
    volume = np.ascontiguousarray(volume, dtype=np.float64)
    out: dict[str, np.ndarray] = {"rsi_14": talib.RSI(close, timeperiod=14)}
    out["macd"], out["macd_signal"], out["macd_hist"] = talib.MACD(
        close, fastperiod=12, slowperiod=26, signalperiod=9
    )
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = talib.BBANDS(
        close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=talib.MA_Type.SMA
    )
    out["sma_50"] = talib.SMA(close, timeperiod=50)
    out["sma_200"] = talib.SMA(close, timeperiod=200)
    out["volume_sma_20"] = talib.SMA(volume, timeperiod=20)
    out["volume_ratio"] = volume_ratio(volume, out["volume_sma_20"])
    return out


def volume_ratio(volume: np.ndarray, average: np.ndarray) -> np.ndarray:
    ratio = np.full(volume.shape, np.nan)
    ok = average > 0  # False for NaN (warm-up) and for a zero average
    ratio[ok] = volume[ok] / average[ok]
    return ratio


def read_prices(path: Path) -> dict[str, list]:
    """Reads a Yahoo-style CSV (Date,Open,High,Low,Close,Adj Close,Volume) as floats."""
    cols: dict[str, list] = {"date": [], "open": [], "high": [], "low": [], "close": [], "volume": []}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            cols["date"].append(row["Date"])
            for name, key in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close"), ("volume", "Volume")):
                cols[name].append(float(row[key]))
    return cols


def compare(expected: np.ndarray, got: list[float | None]) -> list[tuple[int, str]]:
    """Indices where `got` differs from TA-Lib's `expected`, with a reason."""
    problems = []
    for i, (e, g) in enumerate(zip(expected, got)):
        if np.isnan(e):
            if g is not None:
                problems.append((i, f"expected empty (TA-Lib NaN), got {g!r}"))
        elif g is None:
            problems.append((i, f"expected {e!r}, got empty"))
        elif not abs(g - e) <= REL_TOL * max(1.0, abs(e)):
            problems.append((i, f"expected {e!r}, got {g!r} (diff {g - e:.3e})"))
    if len(expected) != len(got):
        problems.append((min(len(expected), len(got)), f"length {len(got)} != {len(expected)}"))
    return problems
