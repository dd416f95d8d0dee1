"""Benchmark: the seed's rule strategy backtested by backtesting.py and by `tft backtest`.

Same tickers, same dates, same rule (shared/src/core/rules_strategy.rs): MACD crossover on
the day, RSI < 30 and volume > 2x its 20-day average on one of the last 5 days, bullish
Reddit sentiment where there are mentions; entry at the next open; stop/target scaled by
the 20-day volatility (docs/risk.md); out on the 7th trading day; 5 + 5 bps.

Two comparisons, each best of --repeat:

(a) End to end, from the CSVs.
    - backtesting.py: read every ticker's CSV with pandas, and per ticker one `Backtest`
      whose `Strategy.init` computes the indicators itself with TA-Lib (RSI 14, MACD
      12/26/9, SMA of volume 20) and pandas (20-day volatility of log returns), as a
      backtesting.py user would, then `run()`. Each frame starts --warmup-days calendar
      days before --from so the indicators are warm; the strategy trades from --from.
      The Reddit sentiment columns (mention count, sentiment score per ticker-day) are the
      one input NOT recomputed on this side: they come from `tft features export` and are
      joined in outside the timer (scoring Reddit with VADER in Python is not part of
      what backtesting.py does), so (a) favours backtesting.py.
    - tft: the whole `tft backtest --strategy rules` process: reading every CSV and the
      Reddit dumps, VADER scoring, features, the portfolio day loop, metrics and reports.
(b) Engine loop alone.
    - backtesting.py: `Backtest.run()` alone on frames that already hold the features
      (exported by tft, so both engines see the same rule inputs); `init` does nothing;
      constructing the `Backtest` is outside the timer.
    - tft: the day loop from its `timings:` line (after reading, scoring and features).

The two do not give the same trades: tft trades one portfolio (5 positions, 20 % each,
2 % risk budget, drawdown breaker: docs/risk.md), backtesting.py one independent account
per ticker (single asset per run, no portfolio-level risk manager). The signal counts (the
rule firing on a ticker-day) are comparable and are printed, with the trades.

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
import talib
from backtesting import Backtest, Strategy

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
LOOKBACK = 5
COLS = {
    "indicators_ready": "ready",
    "macd_crossover": "cross",
    "rsi_oversold": "oversold",
    "volume_spike": "spike",
    "mention_count": "mentions",
    "sentiment_score": "score",
    "volatility_20d": "vol",
}


def export_features(tft, prices, posts, start, end, out):
    warm = str(pd.Timestamp(start) - pd.Timedelta(days=20))[:10]
    cmd = [tft, "features", "export", "--prices", prices, "--from", warm, "--to", end, "--out", out]
    if posts:
        cmd += ["--posts", *posts]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return pd.read_csv(out, parse_dates=["date"])


def rule_fires(ready, cross, oversold, spike, mentions, score):
    """The rule on the last bar of backtesting.py's growing arrays."""
    if len(ready) < LOOKBACK or ready[-1] < 0.5 or cross[-1] < 0.5:
        return False
    if oversold[-LOOKBACK:].max() < 0.5 or spike[-LOOKBACK:].max() < 0.5:
        return False
    mentions = mentions[-LOOKBACK:]
    if mentions.sum() > 0:
        weighted = (mentions * score[-LOOKBACK:]).sum() / mentions.sum()
        if weighted <= 0.05:
            return False
    return True


class Rules(Strategy):
    """The rule on precomputed columns (comparison (b))."""

    start = None  # the first trading day (earlier bars only warm the lookback up)
    last_bar = 10**9  # no signal after the last day's close (as in tft)

    def init(self):
        self.signals = 0

    def inputs(self):
        d = self.data
        return d.ready, d.cross, d.oversold, d.spike, d.mentions, d.score, d.vol

    def next(self):
        d = self.data
        if self.start is not None and d.index[-1] < self.start:
            return
        if self.position:
            trade = self.trades[-1]
            if len(d) - 1 - trade.entry_bar >= 6:  # the 7th bar of the hold, entry bar = 1
                self.position.close()
        if len(d) - 1 >= self.last_bar:
            return
        ready, cross, oversold, spike, mentions, score, vol = self.inputs()
        fires = rule_fires(ready, cross, oversold, spike, mentions, score)
        self.signals += fires
        if self.position or not fires:
            return
        vol = vol[-1]
        stop = min(max(2 * vol, 0.02), 0.05) if vol > 0 else 0.05
        target = min(max(2 * stop, 0.05), 0.10)
        close = d.Close[-1]
        self.buy(size=0.2, sl=close * (1 - stop), tp=close * (1 + target))


def volatility(close):
    return pd.Series(np.log(close)).diff().rolling(20).std().fillna(0).to_numpy()


class RulesWithIndicators(Rules):
    """The same rule, computing its indicators in `init` (comparison (a))."""

    def init(self):
        super().init()
        close = np.asarray(self.data.Close, dtype=float)
        volume = np.asarray(self.data.Volume, dtype=float)
        rsi = talib.RSI(close, 14)
        macd, signal, _ = talib.MACD(close, 12, 26, 9)
        prev_macd, prev_signal = np.roll(macd, 1), np.roll(signal, 1)
        prev_macd[0] = prev_signal[0] = np.nan
        avg_volume = talib.SMA(volume, 20)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(avg_volume > 0, volume / avg_volume, np.nan)
        ready = ~np.isnan(rsi) & ~np.isnan(macd) & (np.arange(len(close)) >= 20)
        self.ready = self.I(lambda: ready.astype(float), name="ready", plot=False)
        self.cross = self.I(lambda: ((prev_macd <= prev_signal) & (macd > signal)).astype(float),
                            name="cross", plot=False)
        self.oversold = self.I(lambda: (rsi < 30).astype(float), name="oversold", plot=False)
        self.spike = self.I(lambda: (ratio > 2).astype(float), name="spike", plot=False)
        self.vol = self.I(lambda: volatility(close), name="vol", plot=False)

    def inputs(self):
        d = self.data
        return self.ready, self.cross, self.oversold, self.spike, d.mentions, d.score, self.vol


def read_bars(path):
    bars = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return bars[["Open", "High", "Low", "Close", "Volume"]]


def sentiment_columns(features):
    """Per ticker: mention count and sentiment score by date (from tft's export)."""
    return {t: g.set_index("date")[["mention_count", "sentiment_score"]].rename(
        columns={"mention_count": "mentions", "sentiment_score": "score"}) for t, g in features.groupby("ticker")}


def precomputed_frames(prices, features, start, end):
    out = {}
    by_ticker = {t: g.set_index("date") for t, g in features.groupby("ticker")}
    for path in sorted(glob.glob(os.path.join(prices, "*.csv"))):
        ticker = os.path.basename(path)[:-4]
        if ticker not in by_ticker:
            continue
        f = by_ticker[ticker][list(COLS)].rename(columns=COLS)
        df = read_bars(path).join(f, how="inner")
        df = df[df.index <= end]
        if (df.index >= start).sum() > LOOKBACK + 2:
            out[ticker] = df
    return out


def run_precomputed(data, start):
    """(b): Backtest.run alone on the precomputed frames."""
    trades = signals = 0
    elapsed = 0.0
    for df in data.values():
        bt = Backtest(df, Rules, cash=100_000, commission=0.001, exclusive_orders=True)
        t0 = time.perf_counter()
        stats = bt.run(start=np.datetime64(start), last_bar=len(df) - 1)
        elapsed += time.perf_counter() - t0
        trades += int(stats["# Trades"])
        signals += stats._strategy.signals
    return elapsed, trades, signals


def run_end_to_end(prices, tickers, sentiment, start, end, warmup_days):
    """(a): read the CSVs, indicators in init, run; sentiment joined from the export."""
    first = pd.Timestamp(start) - pd.Timedelta(days=warmup_days)
    t0 = time.perf_counter()
    trades = signals = 0
    untimed = 0.0
    for ticker in tickers:
        df = read_bars(os.path.join(prices, f"{ticker}.csv"))
        df = df[(df.index >= first) & (df.index <= end)]
        u0 = time.perf_counter()
        df = df.join(sentiment[ticker], how="left").fillna({"mentions": 0.0, "score": 0.0})
        untimed += time.perf_counter() - u0
        bt = Backtest(df, RulesWithIndicators, cash=100_000, commission=0.001, exclusive_orders=True)
        stats = bt.run(start=np.datetime64(start), last_bar=len(df) - 1)
        trades += int(stats["# Trades"])
        signals += stats._strategy.signals
    return time.perf_counter() - t0 - untimed, trades, signals


def run_tft(args, out):
    cmd = [args.tft, "backtest", "--strategy", "rules", "--prices", args.prices, "--benchmark", args.benchmark,
           "--from", args.start, "--to", args.end, "--out", out]
    if args.posts:
        cmd += ["--posts", *args.posts]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    loop = float(re.search(r"day loops ([0-9.]+) s", done.stdout).group(1))
    return wall, loop, json.load(open(os.path.join(out, "report.json")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prices_dir", nargs="?", default=None, help="same as --prices")
    ap.add_argument("--prices", default=os.path.join(SHARED, "prices", "daily"))
    ap.add_argument("--posts", nargs="*", default=sorted(glob.glob(os.path.join(SHARED, "reddit", "*.csv"))))
    ap.add_argument("--benchmark", default=None, help="SPY's CSV (default: SPY.csv in the prices dir)")
    ap.add_argument("--from", dest="start", default="2020-01-01")
    ap.add_argument("--to", dest="end", default="2021-12-31")
    ap.add_argument("--warmup-days", type=int, default=400, help="calendar days of bars before --from for (a)")
    ap.add_argument("--tft", default=os.path.join(ROOT, "target", "release", "tft"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.prices_dir:
        args.prices = args.prices_dir
    args.benchmark = args.benchmark or os.path.join(args.prices, "SPY.csv")
    if not os.path.exists(args.tft):
        sys.exit(f"{args.tft} missing: cargo build --release -p tft")
    warnings.filterwarnings("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        features = export_features(args.tft, args.prices, args.posts, args.start, args.end, os.path.join(tmp, "f.csv"))
        data = precomputed_frames(args.prices, features, args.start, args.end)
        sentiment = sentiment_columns(features)
        tickers = sorted(data)

        rs = [run_tft(args, os.path.join(tmp, f"out{i}")) for i in range(args.repeat)]
        report = rs[-1][2]
        b = [run_precomputed(data, args.start) for _ in range(args.repeat)]
        a = [run_end_to_end(args.prices, tickers, sentiment, args.start, args.end, args.warmup_days)
             for _ in range(args.repeat)]

    rs_wall, rs_loop = min(r[0] for r in rs), min(r[1] for r in rs)
    py_e2e, py_run = min(r[0] for r in a), min(r[0] for r in b)
    print(f"tickers {len(tickers)} (tft universe {report['data']['tickers']}), {args.start}..{args.end}, "
          f"best of {args.repeat}")
    print()
    print("(a) end to end from the CSVs")
    print(f"  backtesting.py  {py_e2e:8.3f} s  read CSVs + TA-Lib/pandas indicators in init + run "
          f"(Reddit sentiment handed in, untimed)")
    print(f"  tft backtest    {rs_wall:8.3f} s  whole process: CSVs, Reddit dumps + VADER, features, day loop, report")
    print(f"  ratio           {py_e2e / rs_wall:8.1f}x")
    print("(b) engine loop alone")
    print(f"  backtesting.py  {py_run:8.3f} s  sum of Backtest.run() on precomputed features")
    print(f"  tft day loop    {rs_loop:8.3f} s")
    print(f"  ratio           {py_run / rs_loop:8.1f}x   (goal >= 50x)")
    print()
    planned = report["entries_planned"]
    print("signals (the rule firing on a ticker-day) and trades")
    print(f"  tft             {report['buy_predictions']:6d} signals, {planned} entries planned by the risk manager, "
          f"{report['trades']} closed trades + {len(report['open_at_end'])} open at the end; refusals "
          f"{report['rejections']}")
    print(f"  backtesting.py  {b[-1][2]:6d} signals, {b[-1][1]} trades (b: tft's features)")
    print(f"  backtesting.py  {a[-1][2]:6d} signals, {a[-1][1]} trades (a: TA-Lib indicators, "
          f"{args.warmup_days}-day warm-up)")
    print("  tft trades one portfolio (max 5 positions, 20 % cap, 2 % risk budget, 15 % drawdown breaker);")
    print("  backtesting.py runs one account per ticker (single asset, no portfolio-level risk manager),")
    print("  so it takes every signal its flat account can, in every ticker at once.")


if __name__ == "__main__":
    main()
