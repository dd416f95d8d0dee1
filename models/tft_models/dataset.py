"""The training set exported by `tft features export`, split in time, and its 30-day windows.

The CSV is `ticker,date,<features in schema order>,label[,net_return,stop_pct,target_pct,
exit_reason]`, rows grouped by ticker in date order, next to `<name>.meta.json` (written by
the export) with `schema_version`, `schema_hash`, `feature_names`, `classes` and the label's
`barrier`. Nothing here knows the feature names: they are the header's columns between
`date` and `label`, checked against the meta file and its hash (FNV-1a of version and
names), and recorded in the manifest.

Labels: 0 = the stop was reached first (SELL), 1 = the trade timed out or was closed on a
sentiment flip (HOLD), 2 = the target was reached (BUY); empty where the future is unknown
(a ticker's last bars). `net_return` is the realised return of that trade after costs,
`stop_pct` / `target_pct` its own distances (fractions), `exit_reason` a word; the old
export has the label only (those columns are then NaN / empty). Features are float64 in the
file and float32 for the models (the Rust side casts the same way).

Split (time-ordered, never shuffled across time): training rows, a purge gap of at least the
label horizon in trading days, then the calibration slice (about 3 months) on which the
models are calibrated and scored. Rows after the slice are never read into any array used for
fitting or calibration; the labels of the slice's last rows read up to `horizon` trading days
past its end, so the caller's test period must start after that (`Split.labels_read_to`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tft_models.metrics import N_CLASSES
from tft_models.schema import schema_hash

SEQ_LEN = 30  # shared/src/core/prediction.rs SEQUENCE_DAYS
CLASSES = ["SELL", "HOLD", "BUY"]  # label 0, 1, 2 (shared::core::features::Label)
TRADE_COLUMNS = ["net_return", "stop_pct", "target_pct", "exit_reason"]


@dataclass
class FeatureTable:
    """All rows of the export, in file order (ticker, then date)."""

    tickers: np.ndarray  # str [n]
    dates: np.ndarray  # datetime64[D] [n]
    x: np.ndarray  # float32 [n, n_features]
    label: np.ndarray  # int64 [n], -1 where unlabelled
    net_return: np.ndarray  # float64 [n], NaN where unlabelled or not exported
    stop_pct: np.ndarray  # float64 [n], NaN likewise
    target_pct: np.ndarray  # float64 [n], NaN likewise
    exit_reason: np.ndarray  # str [n], "" likewise
    feature_names: list[str]
    schema_version: int
    schema_hash: str
    meta: dict
    sha256: str

    def __len__(self) -> int:
        return len(self.x)

    @property
    def has_trades(self) -> bool:
        """The export carries the trade columns (the new label contract)."""
        return bool(np.isfinite(self.net_return).any())

    def window_start(self) -> np.ndarray:
        """Per row, the number of rows of the same ticker before it (its position in the series)."""
        new = np.ones(len(self), dtype=bool)
        new[1:] = self.tickers[1:] != self.tickers[:-1]
        starts = np.flatnonzero(new)
        lengths = np.diff(np.append(starts, len(self)))
        return np.arange(len(self)) - np.repeat(starts, lengths)


def meta_path(path: Path) -> Path:
    """`features.meta.json` beside `features.csv` (what the export writes), else
    `features.csv.meta.json`."""
    a = path.with_suffix(".meta.json")
    b = path.with_name(path.name + ".meta.json")
    return a if a.exists() or not b.exists() else b


def _float(s: str) -> float:
    return float(s) if s else np.nan


def load_features(path: Path) -> FeatureTable:
    raw = path.read_bytes()
    mp = meta_path(path)
    if not mp.exists():
        raise ValueError(f"{path}: no {mp.name} beside it (written by `tft features export`)")
    meta = json.loads(mp.read_text())
    lines = raw.decode().splitlines()
    header = lines[0].split(",")
    if header[:2] != ["ticker", "date"] or "label" not in header:
        raise ValueError(f"{path}: header must be ticker,date,<features>,label[,...]: {header[:3]}...")
    li = header.index("label")
    names = header[2:li]
    extra = header[li + 1:]
    if extra not in ([], TRADE_COLUMNS):
        raise ValueError(f"{path}: columns after label are {extra}, expected none or {TRADE_COLUMNS}")
    version = meta.get("schema_version")
    if not isinstance(version, int):
        raise ValueError(f"{mp}: schema_version missing")
    if meta.get("feature_names") != names:
        raise ValueError(f"{mp}: feature_names differ from the CSV header's columns")
    digest = schema_hash(version, names)
    if meta.get("schema_hash") != digest:
        raise ValueError(f"{mp}: schema_hash {meta.get('schema_hash')} is not the FNV hash "
                         f"{digest} of version {version} and the header's {len(names)} names")
    if meta.get("classes", CLASSES) != CLASSES:
        raise ValueError(f"{mp}: classes {meta.get('classes')} are not {CLASSES}")
    body = lines[1:]
    n, nf = len(body), len(names)
    tickers = np.empty(n, dtype=object)
    dates = np.empty(n, dtype="datetime64[D]")
    label = np.full(n, -1, dtype=np.int64)
    values = np.empty((n, nf), dtype=np.float64)
    trade = np.full((n, 3), np.nan)
    reason = np.full(n, "", dtype=object)
    width = len(header)
    for i, line in enumerate(body):
        parts = line.split(",")
        if len(parts) != width:
            raise ValueError(f"{path}:{i + 2}: {len(parts)} fields, header has {width}")
        tickers[i] = parts[0]
        dates[i] = np.datetime64(parts[1], "D")
        if parts[li]:
            label[i] = int(parts[li])
        values[i] = parts[2:li]
        if extra:
            trade[i] = [_float(parts[li + 1]), _float(parts[li + 2]), _float(parts[li + 3])]
            reason[i] = parts[li + 4]
    if ((label < -1) | (label >= N_CLASSES)).any():
        raise ValueError(f"{path}: labels outside 0..{N_CLASSES - 1}")
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
    return FeatureTable(tickers, dates, x, label, trade[:, 0], trade[:, 1], trade[:, 2],
                        reason.astype(str), names, version, digest, meta,
                        hashlib.sha256(raw).hexdigest())


def label_horizon(table: FeatureTable, default: int = 7) -> int:
    """Trading days a label looks ahead (the export's `barrier.horizon_days`)."""
    return int((table.meta.get("barrier") or {}).get("horizon_days", default))


@dataclass
class Split:
    train: np.ndarray  # row indices (labelled, with a full window), time-ordered per ticker
    calibrate: np.ndarray
    purge_from: np.datetime64
    purge_to: np.datetime64
    purge_trading_days: int
    labels_read_to: str  # the last trading day the calibration labels may read ("" if past the export)


def trading_days(table: FeatureTable) -> np.ndarray:
    """The distinct dates of the export (the union of every ticker's bars), sorted."""
    return np.unique(table.dates)


def make_split(table: FeatureTable, train_from: str, train_to: str, calibrate_from: str,
               calibrate_to: str, purge_days: int, full_window: bool = True) -> Split:
    """Rows whose signal date is in each window, labelled, with SEQ_LEN rows of history
    (so the trees and the LSTM see the same rows). Checked: `purge_days` >= the label
    horizon (the export's `barrier.horizon_days`), and at least `purge_days` trading days lie
    strictly between the last training date and the first calibration date, so no training
    label reads a calibration bar."""
    d = table.dates
    t_from, t_to, c_from, c_to = (np.datetime64(s, "D") for s in (train_from, train_to,
                                                                   calibrate_from, calibrate_to))
    if not t_from <= t_to < c_from <= c_to:
        raise ValueError("windows must be ordered: train_from <= train_to < calibrate_from <= calibrate_to")
    horizon = label_horizon(table)
    if purge_days < horizon:
        raise ValueError(f"purge of {purge_days} trading days is shorter than the label horizon {horizon}")
    days = trading_days(table)
    between = days[(days > t_to) & (days < c_from)]
    if len(between) < purge_days:
        raise ValueError(f"purge gap {train_to}..{calibrate_from} holds {len(between)} trading days, "
                         f"need >= {purge_days}")
    ok = table.label >= 0
    if full_window:
        ok &= table.window_start() >= SEQ_LEN - 1
    train = np.flatnonzero(ok & (d >= t_from) & (d <= t_to))
    calibrate = np.flatnonzero(ok & (d >= c_from) & (d <= c_to))
    if len(train) == 0 or len(calibrate) == 0:
        raise ValueError(f"empty split: {len(train)} training rows, {len(calibrate)} calibration rows")
    # A training label reads at most `horizon` trading days ahead: it must end before the slice.
    after_train = days[days > t_to]
    if len(after_train) > horizon and after_train[horizon - 1] >= c_from:
        raise ValueError("a training label reads into the calibration slice")
    after = days[days > c_to]
    labels_read_to = str(after[horizon - 1]) if len(after) >= horizon else ""
    return Split(train, calibrate, between[0] if len(between) else t_to,
                 between[-1] if len(between) else c_from, len(between), labels_read_to)


def windows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """[len(rows), SEQ_LEN, 31]: for each row, its ticker's last SEQ_LEN rows ending at it,
    oldest first (rows must have SEQ_LEN - 1 rows of the same ticker before them)."""
    idx = rows[:, None] + np.arange(-(SEQ_LEN - 1), 1)[None, :]
    return x[idx]


def class_counts(y: np.ndarray) -> dict[str, int]:
    counts = np.bincount(y, minlength=3)
    return {c: int(n) for c, n in zip(CLASSES, counts)}
