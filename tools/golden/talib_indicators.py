"""Generates the golden files of shared/tests/golden/indicators/ from real prices with
TA-Lib (PyPI `ta-lib`, which bundles the C library) and numpy.

    cd tools && uv run python golden/talib_indicators.py [--data DIR]

Input: ../shared/data/prices/daily/<TICKER>.csv beside the repo (dieperdev/yfinance-stock-data
@a342efb7, Unlicense; columns Date,Open,High,Low,Close,Adj Close,Volume), cut to the
window listed below for each ticker. TA-Lib computes on the cut series, so each golden
file is self-contained: shared/tests/indicators_golden.rs recomputes from its input
columns and needs neither Python nor ../shared.

Each file: `#` comment lines (source, versions, definitions), then the header
date,open,high,low,close,volume,<outputs>; floats written with repr (shortest string that
round-trips), an empty field where TA-Lib gives NaN.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from talib_ref import COLUMNS, read_prices, reference  # first: reruns via uv if needed

import numpy as np
import talib

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "shared" / "tests" / "golden" / "indicators"

FULL = ("0000-00-00", "9999-99-99")
Y2020_2021 = ("2020-01-01", "2021-12-31")

# ticker -> (first date, last date), both included. Why each is here:
TICKERS = {
    "AAPL": FULL,  # large cap, full 8 years: long running sums, Bollinger reseeds every 640 bars
    "MSFT": Y2020_2021,
    "AMZN": Y2020_2021,
    "JPM": Y2020_2021,
    "XOM": Y2020_2021,  # negative-drift year, 2020 crash
    "KO": Y2020_2021,  # low volatility
    "NVR": Y2020_2021,  # ~$5000 close: cancellation in a naive E[x^2] - E[x]^2 variance
    "GME": Y2020_2021,  # meme squeeze, extreme moves
    "AMC": Y2020_2021,
    "TSLA": Y2020_2021,
    "BB": Y2020_2021,
    "NOK": Y2020_2021,
    "KOSS": Y2020_2021,  # meme, a zero-volume day
    "CENN": ("2017-01-01", "2018-12-31"),  # penny stock, runs of zero volume: zero 20-day average
    "ACB": ("2014-01-01", "2015-12-31"),  # starts mid-2014, runs of zero volume
    "NKLA": FULL,  # listed 2018, zero-volume days
    "DKNG": FULL,  # listed 2019 (SPAC): flat $9.85 closes, i.e. zero-width bands
    "PLTR": FULL,  # listed 2020-09-30, 317 bars
    "RBLX": FULL,  # listed 2021-03-10, 207 bars: SMA 200 on the last 8 only
    "COIN": FULL,  # listed 2021-04-14, 183 bars: no SMA 200 at all
    "HOOD": FULL,  # listed 2021-07-29, 109 bars
}

OUTPUTS = [*COLUMNS[:9], "volume_sma_20", "volume_ratio"]


def fmt(value: float) -> str:
    if np.isnan(value):
        return ""
    return repr(float(value))


def fmt_volume(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def generate(ticker: str, window: tuple[str, str], data: Path) -> tuple[int, dict[str, int]]:
    prices = read_prices(data / f"{ticker}.csv")
    first, last = window
    keep = [i for i, d in enumerate(prices["date"]) if first <= d <= last]
    cols = {k: [v[i] for i in keep] for k, v in prices.items()}
    close, volume = np.array(cols["close"]), np.array(cols["volume"])
    ref = reference(close, volume)
    span = f"{cols['date'][0]}..{cols['date'][-1]}"
    lines = [
        "# TA-Lib golden values for tft's indicators, checked by shared/tests/indicators_golden.rs.",
        f"# Input: {ticker} daily bars {span} ({len(keep)} rows) of dieperdev/yfinance-stock-data @a342efb7",
        f"# (Unlicense), data/{ticker}.csv, via ../shared/data/prices/daily; split-adjusted Close, not Adj Close.",
        (
            f"# Outputs: TA-Lib {talib.__version__} (C {talib.__ta_version__.decode()}), numpy {np.__version__},"
            " default settings, unstable period 0, computed on these rows:"
        ),
        (
            "# RSI(close,14); MACD(close,12,26,9); BBANDS(close,20,2,2,SMA); SMA(close,50); SMA(close,200);"
            " volume_sma_20 = SMA(volume,20);"
        ),
        "# volume_ratio = volume / volume_sma_20 where that average is > 0. Empty field = TA-Lib NaN (undefined).",
        "# Regenerate: cd tools && uv run python golden/talib_indicators.py",
        ",".join(["date", "open", "high", "low", "close", "volume", *OUTPUTS]),
    ]
    for i, date in enumerate(cols["date"]):
        fields = [date, *(repr(cols[k][i]) for k in ("open", "high", "low", "close")), fmt_volume(volume[i])]
        fields += [fmt(ref[name][i]) for name in OUTPUTS]
        lines.append(",".join(fields))
    (OUT_DIR / f"{ticker}.csv").write_text("\n".join(lines) + "\n")
    defined = {name: int((~np.isnan(ref[name])).sum()) for name in OUTPUTS}
    return len(keep), defined


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "prices" / "daily")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for stale in OUT_DIR.glob("*.csv"):
        if stale.stem not in TICKERS:
            stale.unlink()
    print(f"TA-Lib {talib.__version__} (C {talib.__ta_version__.decode()}), numpy {np.__version__}, Python {platform.python_version()}")
    total = 0
    for ticker, window in TICKERS.items():
        rows, defined = generate(ticker, window, args.data)
        total += rows
        zero_avg = defined["volume_sma_20"] - defined["volume_ratio"]
        print(f"{ticker:<5} {rows:>5} rows  rsi {defined['rsi_14']:>5}  macd {defined['macd']:>5}  "
              f"sma_200 {defined['sma_200']:>5}  zero volume average {zero_avg:>3}")
    size = sum(p.stat().st_size for p in OUT_DIR.glob("*.csv"))
    print(f"{len(TICKERS)} files, {total} rows, {size / 1e6:.2f} MB in {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
