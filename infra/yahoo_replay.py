#!/usr/bin/env python3
"""Serves recorded Yahoo chart responses on localhost, for the demo (no network).

Daily bars: GET /v8/finance/chart/<TICKER>?period1=..&period2=.. answers with the recorded
body for that ticker (tests/fixtures/yahoo_chart, real responses; see its SOURCES.md),
whatever the window: the client keeps only the bars inside the window it asked for.
SPY, the benchmark, has no recorded response: its answer is built in Yahoo's chart shape
from the bundled real daily bars data/sample/benchmark/SPY.csv (2019-2021; see
data/sample/SOURCES.md). Unknown tickers get Yahoo's own 404 error body.

Live quote: GET /v8/finance/chart/<TICKER>?range=1d&interval=1d (what the 15-minute
monitor asks, shared/src/adapters/quote.rs) answers as of the replay's simulated clock,
set with POST /_replay/clock (body: an RFC 3339 time) or --now. There is no recorded
intraday data, so the quote is *derived from the recorded daily bar* of the clock's New
York day, and says so in meta.tftReplay:
  - day_open = the bar's open (the one bar of the answer, stamped at the session's open);
  - f = the share of the regular session (09:30-16:00 New York) elapsed at the clock;
    last = open + f * (close - open): a straight line from the open to the close;
  - day high / low = max / min of the open and that price: when in the day the recorded
    high and low were reached is not known, so they count only from the close (f = 1),
    where the quote is the bar itself;
  - regularMarketTime = the clock (clamped to the session).
Before the session's open, or on a day without a bar, the quote is the last earlier bar's
close stamped at that session's close (the monitor sees it as stale, as it would live).
Without a clock the quote is the last recorded bar at its close. Standard library only.

    python3 infra/yahoo_replay.py --port 8089 [--now 2021-11-12T15:00:00Z]
"""
import argparse
import csv
import datetime as dt
import json
import pathlib
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "yahoo_chart"
RECORDINGS = {
    "TSLA": "historical-via-chart-dividends-TSLA-no-dividends.body.json",
    "MSFT": "historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.body.json",
    "NVDA": "historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.body.json",
    "AAPL": "chart-AAPL-2020-08-31-to-2020-11-07.body.json",
}
FROM_CSV = {"SPY": ROOT / "data" / "sample" / "benchmark" / "SPY.csv"}
NOT_FOUND = {"chart": {"result": None, "error": {
    "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
NEW_YORK = ZoneInfo("America/New_York")
SESSION = dt.timedelta(hours=6, minutes=30)

CLOCK = {"now": None}
CLOCK_LOCK = threading.Lock()


def chart_from_csv(symbol, path):
    """A chart answer (Yahoo's shape) from a Date,Open,High,Low,Close,Adj Close,Volume CSV."""
    ts, o, h, l, c, adj, v = [], [], [], [], [], [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            day = dt.date.fromisoformat(row["Date"])
            opens = dt.datetime(day.year, day.month, day.day, 9, 30, tzinfo=NEW_YORK)
            ts.append(int(opens.timestamp()))
            o.append(float(row["Open"]))
            h.append(float(row["High"]))
            l.append(float(row["Low"]))
            c.append(float(row["Close"]))
            adj.append(float(row["Adj Close"]))
            v.append(int(float(row["Volume"])))
    meta = {"currency": "USD", "symbol": symbol, "exchangeTimezoneName": "America/New_York",
            "instrumentType": "ETF", "dataGranularity": "1d",
            "regularMarketPrice": c[-1], "regularMarketTime": ts[-1] + int(SESSION.total_seconds()),
            "tftReplay": f"built from {path.relative_to(ROOT)} (real daily bars), not a recording"}
    return {"chart": {"result": [{"meta": meta, "timestamp": ts, "indicators": {
        "quote": [{"open": o, "high": h, "low": l, "close": c, "volume": v}],
        "adjclose": [{"adjclose": adj}]}}], "error": None}}


def load(symbol):
    if symbol in RECORDINGS:
        return (FIXTURES / RECORDINGS[symbol]).read_bytes()
    if symbol in FROM_CSV:
        return json.dumps(chart_from_csv(symbol, FROM_CSV[symbol])).encode()
    return None


def daily_bars(body):
    """[(session open as UTC datetime, open, high, low, close)] of a chart answer."""
    result = json.loads(body)["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    bars = []
    for i, t in enumerate(result.get("timestamp") or []):
        values = [quote[k][i] for k in ("open", "high", "low", "close")]
        if any(x is None for x in values):
            continue
        opens = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        # Recordings stamp a bar at the session's open; make that exact (09:30 New York).
        day = opens.astimezone(NEW_YORK).date()
        opens = dt.datetime(day.year, day.month, day.day, 9, 30, tzinfo=NEW_YORK)
        bars.append((opens.astimezone(dt.timezone.utc), *values))
    return result["meta"].get("symbol"), bars


def quote_at(body, now):
    """The quote answer as of `now` (UTC datetime or None), derived from the daily bars."""
    symbol, bars = daily_bars(body)
    if not bars:
        return None
    if now is None:
        now = bars[-1][0] + SESSION
    day = now.astimezone(NEW_YORK).date()
    today = [b for b in bars if b[0].astimezone(NEW_YORK).date() == day]
    if today and now >= today[0][0]:
        opens, o, h, l, c = today[0]
        f = min(1.0, (now - opens) / SESSION)
        if f >= 1.0:
            last, high, low, at = c, h, l, opens + SESSION
            how = "the recorded daily bar (session over)"
        else:
            last = o + f * (c - o)
            high, low, at = max(o, last), min(o, last), now
            how = (f"derived from the recorded daily bar: {f:.0%} of the session elapsed, "
                   "price on the line from the open to the close, high/low of the open and "
                   "that price (the recorded extremes count only from the close)")
        bar_ts = int(opens.timestamp())
    else:
        earlier = [b for b in bars if b[0] < now]
        if not earlier:
            return None
        opens, o, h, l, c = earlier[-1]
        last, high, low, at = c, h, l, opens + SESSION
        how = "the last recorded session before the clock, at its close (stale)"
        bar_ts = int(opens.timestamp())
    meta = {"symbol": symbol, "regularMarketPrice": round(last, 4),
            "regularMarketDayHigh": round(high, 4), "regularMarketDayLow": round(low, 4),
            "regularMarketTime": int(at.timestamp()), "exchangeTimezoneName": "America/New_York",
            "tftReplay": how}
    return {"chart": {"result": [{"meta": meta, "timestamp": [bar_ts], "indicators": {
        "quote": [{"open": [o], "high": [high], "low": [low], "close": [last]}]}}],
        "error": None}}


def parse_time(text):
    return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(dt.timezone.utc)


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, content_type="application/json;charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/_replay/clock":
            return self.reply(404, b"not found\n", "text/plain")
        text = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            now = parse_time(text)
        except ValueError as e:
            return self.reply(400, f"not an RFC 3339 time: {e}\n".encode(), "text/plain")
        with CLOCK_LOCK:
            CLOCK["now"] = now
        self.reply(200, f"clock {now.isoformat()}\n".encode(), "text/plain")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        match = re.match(r"^/v8/finance/chart/([^/]+)$", url.path)
        symbol = urllib.parse.unquote(match.group(1)).upper() if match else None
        body = load(symbol) if symbol else None
        query = urllib.parse.parse_qs(url.query)
        if body is not None and query.get("range") == ["1d"]:
            with CLOCK_LOCK:
                now = CLOCK["now"]
            answer = quote_at(body, now)
            body = json.dumps(answer).encode() if answer else None
        if body is None:
            return self.reply(404, json.dumps(NOT_FOUND).encode())
        self.reply(200, body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--now", type=parse_time, help="the quote clock (RFC 3339)")
    args = parser.parse_args()
    CLOCK["now"] = args.now
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
