"""Benchmark: the seed's rule strategy backtested by backtesting.py and by `tft backtest`.

Same tickers, same dates, same rule (shared/src/core/rules_strategy.rs): MACD crossover on
the day, RSI < 30 and volume > 2x its 20-day average on one of the last 5 days, bullish
Reddit sentiment where there are mentions; entry at the next open; stop/target scaled by
the 20-day volatility (docs/risk.md); out on the 7th trading day; 5 + 5 bps.

What is timed:
- backtesting.py: constructing and running one `Backtest` per ticker (it is single-asset)
  on DataFrames that already hold the rule's inputs. The features (indicators, the Reddit
  aggregation) come from `tft features export` and are NOT timed on this side, so the
  comparison favours backtesting.py.
- tft: the whole `tft backtest --strategy rules` process: reading every CSV and Reddit dump,
  VADER scoring, features, the day loop over the portfolio, metrics and report writing; and,
  from its `timings:` line, the day loop alone (the part backtesting.py's runs correspond to).

The two do not give the same trades: tft trades one portfolio (5 positions, 20 % each,
risk manager, drawdown breaker), backtesting.py one independent account per ticker. This is
a speed benchmark, not a parity test.

    cd tools && uv run python bench/backtest_vs_backtestingpy.py \
        [--prices ../../shared/data/prices/daily] [--from 2020-01-01 --to 2021-12-31]
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
LOOKBACK = 5


def export_features(tft, prices, posts, start, end, out):
    warm = str(pd.Timestamp(start) - pd.Timedelta(days=20))[:10]
    cmd = [tft, "features", "export", "--prices", prices, "--from", warm, "--to", end, "--out", out]
    if posts:
        cmd += ["--posts", *posts]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return pd.read_csv(out, parse_dates=["date"])


class Rules(Strategy):
    def init(self):
        pass

    def next(self):
        d = self.data
        if self.position:
            trade = self.trades[-1]
            if len(d) - 1 - trade.entry_bar >= 6:  # the 7th bar of the hold, entry bar = 1
                self.position.close()
            return
        if len(d) < LOOKBACK or d.ready[-1] < 0.5 or d.cross[-1] < 0.5:
            return
        if d.oversold[-LOOKBACK:].max() < 0.5 or d.spike[-LOOKBACK:].max() < 0.5:
            return
        mentions = d.mentions[-LOOKBACK:]
        if mentions.sum() > 0:
            score = (mentions * d.score[-LOOKBACK:]).sum() / mentions.sum()
            if score <= 0.05:
                return
        stop = min(max(2 * d.vol[-1], 0.02), 0.05) if d.vol[-1] > 0 else 0.05
        target = min(max(2 * stop, 0.05), 0.10)
        close = d.Close[-1]
        self.buy(size=0.2, sl=close * (1 - stop), tp=close * (1 + target))


def frames(prices, features, start, end):
    out = {}
    cols = {
        "indicators_ready": "ready",
        "macd_crossover": "cross",
        "rsi_oversold": "oversold",
        "volume_spike": "spike",
        "mention_count": "mentions",
        "sentiment_score": "score",
        "volatility_20d": "vol",
    }
    by_ticker = {t: g.set_index("date") for t, g in features.groupby("ticker")}
    for path in sorted(glob.glob(os.path.join(prices, "*.csv"))):
        ticker = os.path.basename(path)[:-4]
        if ticker not in by_ticker:
            continue
        bars = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
        bars = bars[["Open", "High", "Low", "Close", "Volume"]]
        f = by_ticker[ticker][list(cols)].rename(columns=cols)
        df = bars.join(f, how="inner")
        df = df[(df.index >= start) & (df.index <= end)]
        if len(df) > LOOKBACK + 2:
            out[ticker] = df
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prices", default=os.path.join(SHARED, "prices", "daily"))
    ap.add_argument("--posts", nargs="*", default=sorted(glob.glob(os.path.join(SHARED, "reddit", "*.csv"))))
    ap.add_argument("--benchmark", default=os.path.join(SHARED, "prices", "daily", "SPY.csv"))
    ap.add_argument("--from", dest="start", default="2020-01-01")
    ap.add_argument("--to", dest="end", default="2021-12-31")
    ap.add_argument("--tft", default=os.path.join(ROOT, "target", "release", "tft"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(args.tft):
        sys.exit(f"{args.tft} missing: cargo build --release -p tft")

    with tempfile.TemporaryDirectory() as tmp:
        features = export_features(args.tft, args.prices, args.posts, args.start, args.end, os.path.join(tmp, "f.csv"))
        data = frames(args.prices, features, args.start, args.end)

        warnings.filterwarnings("ignore")
        py_times, py_trades = [], 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            py_trades = 0
            for df in data.values():
                bt = Backtest(df, Rules, cash=100_000, commission=0.001, exclusive_orders=True)
                py_trades += int(bt.run()["# Trades"])
            py_times.append(time.perf_counter() - t0)

        rs_times, loop_times, report = [], [], None
        for i in range(args.repeat):
            out = os.path.join(tmp, f"out{i}")
            cmd = [args.tft, "backtest", "--strategy", "rules", "--prices", args.prices, "--benchmark", args.benchmark,
                   "--from", args.start, "--to", args.end, "--out", out]
            if args.posts:
                cmd += ["--posts", *args.posts]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rs_times.append(time.perf_counter() - t0)
            loop = re.search(r"day loops ([0-9.]+) s", done.stdout)
            loop_times.append(float(loop.group(1)))
            report = json.load(open(os.path.join(out, "report.json")))

    py, rs, loop = min(py_times), min(rs_times), min(loop_times)
    print(f"tickers {len(data)}, {args.start}..{args.end}, best of {args.repeat}")
    print(f"backtesting.py {py:8.3f} s  ({py_trades} trades, one account per ticker, features precomputed)")
    print(f"tft backtest   {rs:8.3f} s  ({report['trades']} trades, one portfolio, whole process)")
    print(f"  of which the day loop {loop:8.3f} s (after reading, scoring and features)")
    print(f"ratio, whole tft process vs backtesting.py's runs   {py / rs:8.1f}x (goal >= 50x)")
    print(f"ratio, tft's day loop vs backtesting.py's runs      {py / loop:8.1f}x")


if __name__ == "__main__":
    main()
