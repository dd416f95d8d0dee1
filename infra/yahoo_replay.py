#!/usr/bin/env python3
"""Serves recorded Yahoo chart responses on localhost, for the demo (no network).

GET /v8/finance/chart/<TICKER>?... answers with the recorded body for that ticker
(tests/fixtures/yahoo_chart, real responses; see its SOURCES.md), whatever the query:
the client keeps only the bars inside the window it asked for. Unknown tickers get
Yahoo's own 404 error body. Standard library only.

    python3 infra/yahoo_replay.py --port 8089
"""
import argparse
import json
import pathlib
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "yahoo_chart"
RECORDINGS = {
    "TSLA": "historical-via-chart-dividends-TSLA-no-dividends.body.json",
    "MSFT": "historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.body.json",
    "NVDA": "historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.body.json",
    "AAPL": "chart-AAPL-2020-08-31-to-2020-11-07.body.json",
}
NOT_FOUND = {"chart": {"result": None, "error": {
    "code": "Not Found", "description": "No data found, symbol may be delisted"}}}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        match = re.match(r"^/v8/finance/chart/([^/?]+)", self.path)
        name = RECORDINGS.get(match.group(1).upper()) if match else None
        if name is None:
            body, status = json.dumps(NOT_FOUND).encode(), 404
        else:
            body, status = (FIXTURES / name).read_bytes(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
