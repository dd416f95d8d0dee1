"""The training set exported by `tft features export`, split in time, and its 30-day windows.

The CSV has `ticker,date,<31 features in schema order>,label` (label empty for a ticker's
last 7 bars: the future is unknown), rows grouped by ticker in date order, next to a
`<name>.meta.json` with the schema and the label definition. Features are float64 in the
file and float32 for the models (the Rust side casts the same way).

Split (time-ordered, never shuffled across time): a training window, a purge gap of trading
days whose labels would look into the validation window, and a validation window. Rows after
the validation window are never read into any array used for fitting or model choice (the
backtest's out-of-sample period).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tft_models.data import CLASSES, FEATURE_NAMES, N_FEATURES, schema_hash

SEQ_LEN = 30  # shared/src/core/prediction.rs SEQUENCE_DAYS
SCHEMA_VERSION = 1


@dataclass
class FeatureTable:
    """All rows of the export, in file order (ticker, then date)."""

    tickers: np.ndarray  # str [n]
    dates: np.ndarray  # datetime64[D] [n]
    x: np.ndarray  # float32 [n, 31]
    label: np.ndarray  # int64 [n], -1 where unlabelled
    meta: dict
    sha256: str

    def __len__(self) -> int:
        return len(self.x)

    def window_start(self) -> np.ndarray:
        """Per row, the number of rows of the same ticker before it (its position in the series)."""
        new = np.ones(len(self), dtype=bool)
        new[1:] = self.tickers[1:] != self.tickers[:-1]
        starts = np.flatnonzero(new)
        lengths = np.diff(np.append(starts, len(self)))
        return np.arange(len(self)) - np.repeat(starts, lengths)


def load_features(path: Path) -> FeatureTable:
    raw = path.read_bytes()
    meta_path = path.with_suffix(".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    lines = raw.decode().splitlines()
    header = lines[0].split(",")
    expected = ["ticker", "date", *FEATURE_NAMES, "label"]
    if header != expected:
        raise ValueError(f"{path}: columns {header} are not {expected}")
    if meta and (meta.get("schema_hash") != schema_hash() or meta.get("classes") != CLASSES):
        raise ValueError(f"{meta_path}: schema {meta.get('schema_hash')} / classes "
                         f"{meta.get('classes')} differ from {schema_hash()} / {CLASSES}")
    body = lines[1:]
    n = len(body)
    tickers = np.empty(n, dtype=object)
    dates = np.empty(n, dtype="datetime64[D]")
    label = np.full(n, -1, dtype=np.int64)
    values = np.empty((n, N_FEATURES), dtype=np.float64)
    for i, line in enumerate(body):
        parts = line.split(",")
        tickers[i] = parts[0]
        dates[i] = np.datetime64(parts[1], "D")
        if parts[-1]:
            label[i] = int(parts[-1])
        values[i] = parts[2:-1]
    x = values.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: non-finite feature values")
    tickers = tickers.astype(str)
    # Windows need each ticker's rows contiguous and in date order.
    same = tickers[1:] == tickers[:-1]
    if (same & (dates[1:] <= dates[:-1])).any():
        raise ValueError(f"{path}: rows of a ticker are not in increasing date order")
    if len(np.unique(tickers)) != int((~same).sum()) + 1:
        raise ValueError(f"{path}: a ticker's rows are not contiguous")
    return FeatureTable(tickers, dates, x, label, meta, hashlib.sha256(raw).hexdigest())


@dataclass
class Split:
    train: np.ndarray  # row indices (labelled, with a full window), time-ordered per ticker
    valid: np.ndarray
    purge_from: np.datetime64
    purge_to: np.datetime64
    purge_trading_days: int


def trading_days(table: FeatureTable) -> np.ndarray:
    """The distinct dates of the export (the union of every ticker's bars), sorted."""
    return np.unique(table.dates)


def make_split(table: FeatureTable, train_from: str, train_to: str, valid_from: str,
               valid_to: str, purge_days: int, full_window: bool = True) -> Split:
    """Rows whose signal date is in each window, labelled, with SEQ_LEN rows of history
    (so the trees and the LSTM see the same rows). The purge is checked: at least
    `purge_days` trading days lie strictly between the last training date and the first
    validation date, so no training label (7 trading days ahead) reads a validation bar."""
    d = table.dates
    t_from, t_to, v_from, v_to = (np.datetime64(s, "D") for s in (train_from, train_to,
                                                                   valid_from, valid_to))
    if not t_from <= t_to < v_from <= v_to:
        raise ValueError("windows must be ordered: train_from <= train_to < valid_from <= valid_to")
    days = trading_days(table)
    between = days[(days > t_to) & (days < v_from)]
    if len(between) < purge_days:
        raise ValueError(f"purge gap {train_to}..{valid_from} holds {len(between)} trading days, "
                         f"need >= {purge_days}")
    ok = table.label >= 0
    if full_window:
        ok &= table.window_start() >= SEQ_LEN - 1
    train = np.flatnonzero(ok & (d >= t_from) & (d <= t_to))
    valid = np.flatnonzero(ok & (d >= v_from) & (d <= v_to))
    return Split(train, valid, between[0] if len(between) else t_to,
                 between[-1] if len(between) else v_from, len(between))


def windows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """[len(rows), SEQ_LEN, 31]: for each row, its ticker's last SEQ_LEN rows ending at it,
    oldest first (rows must have SEQ_LEN - 1 rows of the same ticker before them)."""
    idx = rows[:, None] + np.arange(-(SEQ_LEN - 1), 1)[None, :]
    return x[idx]


def class_counts(y: np.ndarray) -> dict[str, int]:
    counts = np.bincount(y, minlength=3)
    return {c: int(n) for c, n in zip(CLASSES, counts)}
