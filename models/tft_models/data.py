"""Real-shaped training data for the tree experiments, from the daily price CSVs.

A numpy approximation of the 31-feature schema of docs/features.md (schema version 1): the
technical features use simple windows (no TA-Lib), the 10 sentiment features are synthetic
(sparse mentions, seeded). Good enough to grow trees of the real shape (binary flags, ratios,
returns) for the export and speed experiments; the real training set comes from
`tft features export`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tft_models.schema import schema_hash as _schema_hash

FEATURE_NAMES = [
    "indicators_ready", "sma_200_ready", "rsi_14", "rsi_oversold", "rsi_overbought",
    "macd_hist_norm", "macd_crossover", "macd_crossunder", "sma_gap", "sma_50_over_200",
    "sma_crossover", "bb_position", "bb_breakout", "volume_ratio", "volume_spike",
    "volume_zscore_20", "return_1d", "return_5d", "return_10d", "return_20d", "volatility_20d",
    "has_mentions", "mention_count", "mention_count_log", "conviction", "sentiment_score",
    "sentiment_weighted", "bullish_share", "sentiment_ma_5", "sentiment_trend", "mention_trend",
]
N_FEATURES = len(FEATURE_NAMES)  # 31
CLASSES = ["SELL", "HOLD", "BUY"]  # 0, 1, 2


def schema_hash(version: int = 1, names: list[str] = FEATURE_NAMES) -> str:
    """FNV-1a 64 of "{version}\\n" + "\\n".join(names) (docs/features.md)."""
    return _schema_hash(version, names)


def _load(path: Path) -> dict[str, np.ndarray]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    out = {k: np.array([float(r[k]) for r in rows]) for k in ("Open", "High", "Low", "Close", "Volume")}
    return out


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        c = np.cumsum(np.insert(x, 0, 0.0))
        out[n - 1:] = (c[n:] - c[:-n]) / n
    return out


def _rolling_std(x: np.ndarray, n: int, ddof: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        w = np.lib.stride_tricks.sliding_window_view(x, n)
        out[n - 1:] = w.std(axis=1, ddof=ddof)
    return out


def _ema(x: np.ndarray, n: int) -> np.ndarray:
    a = 2.0 / (n + 1)
    out = np.empty_like(x)
    out[0] = x[0]
    for i in range(1, len(x)):
        out[i] = a * x[i] + (1 - a) * out[i - 1]
    return out


def _rsi(c: np.ndarray, n: int = 14) -> np.ndarray:
    d = np.diff(c, prepend=c[0])
    up, dn = np.maximum(d, 0), np.maximum(-d, 0)
    au, ad = np.empty_like(c), np.empty_like(c)
    au[0], ad[0] = up[: n + 1].mean(), dn[: n + 1].mean()
    for i in range(1, len(c)):
        au[i] = (au[i - 1] * (n - 1) + up[i]) / n
        ad[i] = (ad[i - 1] * (n - 1) + dn[i]) / n
    return np.where(ad == 0, 100.0, 100 - 100 / (1 + au / np.maximum(ad, 1e-12)))


def _cross_up(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(len(a))
    out[1:] = (a[:-1] <= b[:-1]) & (a[1:] > b[1:])
    return out


def _ret(c: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(c)
    out[k:] = c[k:] / c[:-k] - 1
    return out


def ticker_rows(bars: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(features [n, 31], labels [n] with -1 where unknown) for one ticker."""
    o, h, lo, c, v = (bars[k] for k in ("Open", "High", "Low", "Close", "Volume"))
    n = len(c)
    i = np.arange(n)
    f = np.zeros((n, N_FEATURES))
    rsi = _rsi(c)
    macd = _ema(c, 12) - _ema(c, 26)
    sig = _ema(macd, 9)
    s50, s200 = _sma(c, 50), _sma(c, 200)
    mid, sd = _sma(c, 20), _rolling_std(c, 20, 0)
    vs = _sma(v, 20)
    vstd = _rolling_std(v, 20, 1)
    lr = np.diff(np.log(c), prepend=np.log(c[0]))
    vol = _rolling_std(lr, 20, 1)
    ready = i >= 33
    ready200 = i >= 199
    f[:, 0] = ready
    f[:, 1] = ready200
    f[:, 2] = np.where(ready, rsi, 50)
    f[:, 3] = ready & (rsi < 30)
    f[:, 4] = ready & (rsi > 70)
    f[:, 5] = np.where(ready, (macd - sig) / c, 0)
    f[:, 6] = ready & (_cross_up(macd, sig) > 0)
    f[:, 7] = ready & (_cross_up(sig, macd) > 0)
    gap = np.where(ready200, s50 / np.where(ready200, s200, 1) - 1, 0)
    f[:, 8] = gap
    f[:, 9] = ready200 & (gap > 0)
    cu = _cross_up(np.nan_to_num(s50), np.nan_to_num(s200)) * ready200
    f[:, 10] = np.convolve(cu, np.ones(5))[:n] > 0
    width = 2 * np.nan_to_num(sd)
    f[:, 11] = np.where(ready & (width > 0), (c - np.nan_to_num(mid)) / np.where(width > 0, width, 1), 0)
    f[:, 12] = ready & (f[:, 11] > 1)
    vr = np.where(np.nan_to_num(vs) > 0, v / np.where(np.nan_to_num(vs) > 0, vs, 1), 1)
    f[:, 13] = vr
    f[:, 14] = vr > 2
    vstd0 = np.nan_to_num(vstd)
    f[:, 15] = np.where(vstd0 > 0, (v - np.nan_to_num(vs)) / np.where(vstd0 > 0, vstd0, 1), 0)
    for col, k in ((16, 1), (17, 5), (18, 10), (19, 20)):
        f[:, col] = _ret(c, k)
    f[:, 20] = np.nan_to_num(vol)
    # Synthetic sentiment: sparse mentions, loosely tied to the next days' move so the trees use it.
    fut = np.zeros(n)
    fut[:-5] = c[5:] / c[:-5] - 1
    has = rng.random(n) < 0.25
    mentions = np.where(has, rng.geometric(0.08, n), 0)
    score = np.where(has, np.clip(np.tanh(3 * fut) * 0.3 + rng.normal(0, 0.3, n), -1, 1), 0)
    f[:, 21] = has
    f[:, 22] = mentions
    f[:, 23] = np.log1p(mentions)
    f[:, 24] = mentions > 50
    f[:, 25] = score
    f[:, 26] = np.where(has, np.clip(score + rng.normal(0, 0.1, n), -1, 1), 0)
    f[:, 27] = np.where(has, np.clip((score + 1) / 2 + rng.normal(0, 0.1, n), 0, 1), 0)
    ma5 = np.convolve(score, np.ones(5) / 5)[:n]
    f[:, 28] = ma5
    f[:, 29] = score - ma5
    f[:, 30] = f[:, 23] - np.convolve(f[:, 23], np.ones(5) / 5)[:n]
    # Triple barrier: entry at the next open, +10 % / -5 % over 7 bars, ties are stops.
    y = np.full(n, -1)
    for t in range(n - 7):
        entry = o[t + 1]
        tgt, stop = entry * 1.10, entry * 0.95
        lab = 1
        for k in range(t + 1, t + 8):
            if k > t + 1 and o[k] <= stop:
                lab = 0
                break
            if k > t + 1 and o[k] >= tgt:
                lab = 2
                break
            if lo[k] <= stop:
                lab = 0
                break
            if h[k] >= tgt:
                lab = 2
                break
        y[t] = lab
    return f, y


def load_dataset(prices_dir: Path, max_tickers: int = 60, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the first `max_tickers` tickers (sorted), float32 features, labelled rows only."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for path in sorted(prices_dir.glob("*.csv"))[:max_tickers]:
        bars = _load(path)
        if len(bars["Close"]) < 260:
            continue
        f, y = ticker_rows(bars, rng)
        keep = y >= 0
        xs.append(f[keep])
        ys.append(y[keep])
    x = np.concatenate(xs).astype(np.float32)
    assert np.isfinite(x).all(), "features must be finite"
    return x, np.concatenate(ys)
