"""Benchmark: Rust VADER (plain mode) vs Python vaderSentiment 3.3.2 on real comments (not a test).

    cargo build --release -p tft
    cd tools && uv run python bench/sentiment_vs_python.py [--tft ../target/release/tft] [--file CSV]

Texts: the 12,953 comments of ../shared/data/reddit/wsb_comments_2020-11_2021-12.csv
(column `Comment`), loaded in memory by both sides.
- Python: `SentimentIntensityAnalyzer().polarity_scores(text)` over all of them, best of
  --repeats passes (the analyzer is built before the clock starts).
- Rust: `tft bench-sentiment --file CSV --column Comment --plain`, which loads the same
  column and times only the scoring, best of its own 5 passes.
- Also, end to end: the wall time of `tft sentiment --plain` as a process (start-up, reading
  stdin, scoring, tickers, JSON out) on the same texts, newlines in a text turned into spaces;
  its output is checked against Python on every line.
Prints both times, the speed-up ratio python/rust, and the end-to-end figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
except ImportError:  # not run from the tools venv: run again through uv, once
    if shutil.which("uv") and not os.environ.get("TFT_TOOLS_UV"):
        os.environ["TFT_TOOLS_UV"] = "1"
        tools = Path(__file__).resolve().parents[1]
        os.execvp("uv", ["uv", "run", "--quiet", "--project", str(tools), "python", sys.argv[0], *sys.argv[1:]])
    raise SystemExit("vaderSentiment is missing: pip install uv, then cd tools && uv sync")

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILE = REPO.parent / "shared" / "data" / "reddit" / "wsb_comments_2020-11_2021-12.csv"
COLUMN = "Comment"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tft_pos", nargs="?", type=Path, help="tft binary (same as --tft)")
    parser.add_argument("--tft", type=Path, default=REPO / "target" / "release" / "tft")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeats", type=int, default=3, help="Python passes (best is kept)")
    args = parser.parse_args()
    tft = args.tft_pos or args.tft
    if not tft.exists():
        print(f"no tft binary at {tft}: build it with `cargo build --release -p tft`", file=sys.stderr)
        return 2

    with args.file.open(newline="", encoding="utf-8") as f:
        texts = [row[COLUMN] for row in csv.DictReader(f)]

    analyzer = SentimentIntensityAnalyzer()
    analyzer.polarity_scores("warm up")
    best_py = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        for t in texts:
            analyzer.polarity_scores(t)
        best_py = min(best_py, time.perf_counter() - start)

    out = subprocess.run(
        [str(tft), "bench-sentiment", "--file", str(args.file), "--column", COLUMN, "--plain"],
        capture_output=True, text=True, check=True,
    )
    rust = json.loads(out.stdout)
    if rust["texts"] != len(texts):
        print(f"tft read {rust['texts']} texts, Python {len(texts)}", file=sys.stderr)
        return 1
    best_rs = rust["seconds"]

    lines = [t.replace("\r", " ").replace("\n", " ") for t in texts]
    payload = "\n".join(lines) + "\n"
    start = time.perf_counter()
    proc = subprocess.run([str(tft), "sentiment", "--plain"], input=payload, capture_output=True,
                          text=True, encoding="utf-8", check=True)
    e2e = time.perf_counter() - start
    got = proc.stdout.splitlines()
    mismatches = 0
    for line, out_line in zip(lines, got):
        want = analyzer.polarity_scores(line)
        row = json.loads(out_line)
        mismatches += any(abs(row[k] - want[k]) > 1e-4 for k in ("compound", "pos", "neu", "neg"))
    mismatches += abs(len(got) - len(lines))

    n = len(texts)
    print(f"{n} WSB comments ({args.file.name}), {platform.machine()}, Python {platform.python_version()}")
    print(f"python vaderSentiment 3.3.2 : {best_py:8.4f} s  ({n / best_py:10.0f} texts/s, best of {args.repeats})")
    print(f"rust plain (scoring only)   : {best_rs:8.4f} s  ({n / best_rs:10.0f} texts/s, best of 5)")
    print(f"speed-up python/rust        : {best_py / best_rs:8.1f}x")
    print(f"tft sentiment --plain, whole process incl. start-up, tickers, JSON: {e2e:.3f} s "
          f"({best_py / e2e:.1f}x Python's scoring alone); {mismatches} lines differ from Python")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
