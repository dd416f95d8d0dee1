"""Small test exports in the new CSV contract, without the Rust side:

    uv run python -m tft_models.synth random --out DIR/features.csv [--tickers 6 --days 400 --features 5]
    uv run python -m tft_models.synth add-trades --csv OLD.csv --out NEW.csv

`random`: seeded random features (a synthetic schema, its own hash) whose label depends on
them, and the trade columns. `add-trades`: an old-format export (`...,label`) with the
trade columns appended, so a real-schema CSV exercises the new contract. Both are test data
only: `net_return` of a time-out is the ticker's `return_5d` five rows later (a proxy of the
trade's drift), stops and targets their barrier, minus 0.2 % costs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tft_models.dataset import CLASSES, TRADE_COLUMNS, meta_path
from tft_models.schema import schema_hash

COST = 0.002
STOP, TARGET = 0.05, 0.10
REASONS = {0: "stop", 1: "timeout", 2: "target"}


def _trade(label: int, drift: float) -> tuple[str, str, str, str]:
    if label < 0:
        return "", "", "", ""
    ret = {0: -STOP, 2: TARGET}.get(label, float(np.clip(drift, -STOP, TARGET)))
    return f"{ret - COST:.6f}", f"{STOP}", f"{TARGET}", REASONS[label]


def _write_meta(csv: Path, names: list[str], version: int, rows: int, tickers: int) -> None:
    meta = {"schema_version": version, "schema_hash": schema_hash(version, names),
            "feature_names": names, "classes": CLASSES,
            "barrier": {"horizon_days": 7, "target": TARGET, "stop": STOP},
            "tickers": tickers, "rows": rows, "synthetic": True}
    meta_path(csv).write_text(json.dumps(meta, indent=2) + "\n")


def random_export(out: Path, tickers: int = 6, days: int = 400, features: int = 5, seed: int = 3,
                  start: str = "2019-01-01") -> Path:
    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(features)]
    dates = np.busday_offset(np.datetime64(start, "D"), np.arange(days), roll="forward")
    lines = [",".join(["ticker", "date", *names, "label", *TRADE_COLUMNS])]
    for t in range(tickers):
        x = rng.normal(size=(days, features)).cumsum(axis=0) * 0.1
        score = x[:, 0] - 0.5 * x[:, 1 % features] + rng.normal(size=days)
        label = np.where(score > 1.0, 2, np.where(score < -0.8, 0, 1))
        label[-7:] = -1
        for i in range(days):
            drift = 0.01 * x[min(i + 5, days - 1), 0]
            lab = int(label[i])
            lines.append(",".join([f"T{t:02d}", str(dates[i]), *(f"{v:.6f}" for v in x[i]),
                                   "" if lab < 0 else str(lab), *_trade(lab, drift)]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    _write_meta(out, names, 1, days * tickers, tickers)
    return out


def add_trades(src: Path, out: Path) -> Path:
    lines = src.read_text().splitlines()
    header = lines[0].split(",")
    if header[-1] != "label":
        raise ValueError(f"{src}: not an old-format export (last column {header[-1]})")
    r5 = header.index("return_5d")
    rows = [line.split(",") for line in lines[1:]]
    outl = [",".join([*header, *TRADE_COLUMNS])]
    for i, parts in enumerate(rows):
        j = i + 5
        drift = float(rows[j][r5]) if j < len(rows) and rows[j][0] == parts[0] else 0.0
        lab = int(parts[-1]) if parts[-1] else -1
        outl.append(",".join([*parts, *_trade(lab, drift)]))
    out.write_text("\n".join(outl) + "\n")
    meta = json.loads(meta_path(src).read_text())
    meta["synthetic_trade_columns"] = "tft_models.synth add-trades"
    meta_path(out).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--tickers", type=int, default=6)
    r.add_argument("--days", type=int, default=400)
    r.add_argument("--features", type=int, default=5)
    a = sub.add_parser("add-trades")
    a.add_argument("--csv", type=Path, required=True)
    a.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "random":
        print(random_export(args.out, args.tickers, args.days, args.features))
    else:
        print(add_trades(args.csv, args.out))


if __name__ == "__main__":
    main()
