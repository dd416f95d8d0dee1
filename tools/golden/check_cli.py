"""Checks `tft indicators --csv FILE` against TA-Lib on tickers that are NOT in the
committed golden set (held out), over their full history.

    cd tools && uv run python golden/check_cli.py [--tft ../target/release/tft] [--data DIR] [--limit N]

Exits 1 on any mismatch (value beyond 1e-9 relative, or defined/undefined where TA-Lib
is not), 2 on a setup problem.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

from talib_ref import COLUMNS, compare, read_prices, reference  # first: reruns via uv if needed

import numpy as np

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "shared" / "tests" / "golden" / "indicators"
HEADER = ["date", "close", *COLUMNS]


def default_tft() -> Path:
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "tft"
        if path.exists():
            return path
    return REPO / "target" / "release" / "tft"


def check_ticker(tft: Path, path: Path) -> tuple[list[str], dict[str, tuple[int, int, float]]]:
    """Returns (problems, per-column (values, bit-equal values, max relative diff))."""
    result = subprocess.run(
        [str(tft), "indicators", "--csv", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return [f"exit {result.returncode}: {result.stderr.strip()}"], {}
    rows = list(csv.reader(io.StringIO(result.stdout)))
    if not rows or rows[0] != HEADER:
        return [f"bad header {rows[:1]}"], {}
    rows = rows[1:]
    prices = read_prices(path)
    close, volume = np.array(prices["close"]), np.array(prices["volume"])
    expected = reference(close, volume)
    problems = []
    if [r[0] for r in rows] != prices["date"]:
        problems.append("dates differ from the input")
    for r, c in zip(rows, close):
        if float(r[1]) != c:
            problems.append(f"{r[0]}: close {r[1]} != input {c!r}")
            break
    stats = {}
    for k, name in enumerate(COLUMNS, start=2):
        got = [float(r[k]) if r[k] != "" else None for r in rows]
        for i, reason in compare(expected[name], got)[:5]:
            date = rows[i][0] if i < len(rows) else "?"
            problems.append(f"{date} {name}: {reason}")
        exp = expected[name]
        defined = [(e, g) for e, g in zip(exp, got) if not np.isnan(e) and g is not None]
        bit_equal = sum(1 for e, g in defined if e == g)
        max_rel = max((abs(g - e) / max(1.0, abs(e)) for e, g in defined), default=0.0)
        stats[name] = (len(defined), bit_equal, max_rel)
    return problems, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tft", type=Path, default=default_tft(), help="tft binary (default: target/release/tft, else target/debug/tft)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "prices" / "daily", help="directory of <TICKER>.csv")
    parser.add_argument("--limit", type=int, default=0, help="check only the first N held-out tickers (0 = all)")
    args = parser.parse_args()

    if not args.tft.exists():
        print(f"no tft binary at {args.tft}: build it with `cargo build --release -p tft`", file=sys.stderr)
        return 2
    golden = {p.stem for p in GOLDEN_DIR.glob("*.csv")}
    paths = sorted(p for p in args.data.glob("*.csv") if p.stem not in golden)
    if args.limit:
        paths = paths[: args.limit]
    if len(paths) < 20:
        print(f"only {len(paths)} held-out tickers in {args.data} (want 20+)", file=sys.stderr)
        return 2

    failed = 0
    bars = 0
    totals: dict[str, list] = {name: [0, 0, 0.0] for name in COLUMNS}
    for path in paths:
        problems, stats = check_ticker(args.tft, path)
        for name, (n, eq, rel) in stats.items():
            t = totals[name]
            t[0] += n
            t[1] += eq
            t[2] = max(t[2], rel)
        bars += sum(1 for _ in path.open()) - 1
        if problems:
            failed += 1
            print(f"FAIL {path.stem}:")
            for p in problems[:20]:
                print(f"  {p}")
    print(f"held-out tickers: {len(paths)} ({bars} bars), golden tickers excluded: {len(golden)}")
    print(f"{'column':<14}{'values':>10}{'bit-equal':>12}{'max rel diff':>15}")
    for name, (n, eq, rel) in totals.items():
        print(f"{name:<14}{n:>10}{eq:>12}{rel:>15.3e}")
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
