"""Labels = the exits, against the old fixed +10 % / -5 % triple barrier (docs/features.md).

Reads a `tft features export` CSV (label, net_return, stop_pct, target_pct, exit_reason at
the end of each row) and the price directory it was made from, recomputes the old label
of every exported (ticker, date) the way `triple_barrier_labels` did (entry at the next
bar's open, +10 % / -5 %, bars i+1..=i+7, gaps at the open from the 2nd bar, a tied bar
is the stop), and prints the class shares, the mean net return per class and per exit
reason, and how many rows changed class. Standard library only:

    python3 tools/labels/compare_fixed_barrier.py --export features.csv \
        --prices ../shared/data/prices/daily
"""

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path

CLASSES = ("SELL", "HOLD", "BUY")


def old_labels(path: Path) -> dict[str, int]:
    """date -> the fixed-barrier label (0/1/2) of every bar with 7 bars after it."""
    with path.open(newline="") as f:
        rows = [(r["Date"], float(r["Open"]), float(r["High"]), float(r["Low"]))
                for r in csv.DictReader(f)]
    out = {}
    for i in range(len(rows) - 7):
        entry = rows[i + 1][1]
        upper, lower = entry * (1.0 + 0.10), entry * (1.0 - 0.05)
        label = 1
        for k in range(i + 1, i + 8):
            _, o, h, lo = rows[k]
            if k > i + 1 and o <= lower:
                label = 0
                break
            if k > i + 1 and o >= upper:
                label = 2
                break
            if lo <= lower:
                label = 0
                break
            if h >= upper:
                label = 2
                break
        out[rows[i][0]] = label
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--prices", type=Path, required=True)
    args = ap.parse_args()

    old_by_ticker: dict[str, dict[str, int]] = {}
    classes, reasons, moves = Counter(), Counter(), Counter()
    net_by_class, net_by_reason = defaultdict(float), defaultdict(float)
    net_by_old = defaultdict(float)
    old_classes = Counter()
    total_net, n, missing_old = 0.0, 0, 0
    with args.export.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header[-5:] == ["label", "net_return", "stop_pct", "target_pct", "exit_reason"], header
        for row in reader:
            ticker, date = row[0], row[1]
            label, net, reason = int(row[-5]), float(row[-4]), row[-1]
            if ticker not in old_by_ticker:
                old_by_ticker[ticker] = old_labels(args.prices / f"{ticker}.csv")
            old = old_by_ticker[ticker].get(date)
            n += 1
            total_net += net
            classes[label] += 1
            reasons[reason] += 1
            net_by_class[label] += net
            net_by_reason[reason] += net
            if old is None:
                missing_old += 1
                continue
            old_classes[old] += 1
            net_by_old[old] += net
            moves[(old, label)] += 1

    print(f"rows {n:,}, tickers {len(old_by_ticker)}, mean net return {total_net / n:+.4%}")
    print("\nnew labels (= the exits):")
    for c in range(3):
        print(f"  {c} {CLASSES[c]:4}  {classes[c]:>9,}  {classes[c] / n:6.1%}"
              f"  mean net {net_by_class[c] / max(classes[c], 1):+.3%}")
    print("\nby exit reason:")
    for r, k in sorted(reasons.items()):
        print(f"  {r:12} {k:>9,}  {k / n:6.1%}  mean net {net_by_reason[r] / k:+.3%}")
    compared = n - missing_old
    print(f"\nold fixed barrier (+10/-5) on the same {compared:,} rows"
          f" ({missing_old} without an old label):")
    for c in range(3):
        k = old_classes[c]
        print(f"  {c} {CLASSES[c]:4}  {k:>9,}  {k / compared:6.1%}"
              f"  mean net of the new trade {net_by_old[c] / max(k, 1):+.3%}")
    changed = sum(k for (o, l), k in moves.items() if o != l)
    print(f"\nchanged class: {changed:,} of {compared:,} ({changed / compared:.1%})")
    print("old -> new:")
    for o in range(3):
        cells = "  ".join(f"{CLASSES[l]} {moves[(o, l)]:>8,}" for l in range(3))
        print(f"  {CLASSES[o]:4} -> {cells}")


if __name__ == "__main__":
    main()
