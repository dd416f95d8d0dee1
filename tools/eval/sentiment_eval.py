"""Labelled finance data for the market-mode evaluation: the fixed split, the committed
fixtures, and a dev-split report for working on the market lexicon.

    cd tools && uv run python eval/sentiment_eval.py                 # (re)write the fixtures
    cd tools && uv run python eval/sentiment_eval.py --dev-report ../target/release/tft

Sources (../shared/data/sentiment, see shared/tests/fixtures/sentiment/SOURCES.md):
- finance_tweets_train.csv: 9,543 tweets labelled 0 bearish, 1 bullish, 2 neutral. Shuffled
  with SEED; the first 30% (2,863 tweets) are the TEST split, committed as
  shared/tests/fixtures/sentiment/finance_tweets_test.csv (`row` = 0-based data row in the
  source file). The other 70% (6,680) are the DEV split: the compound -> class thresholds
  are chosen there (shared/tests/market_sentiment_eval.rs re-derives them when ../shared
  is present), and only the dev split was looked at while writing the market lexicon.
- FiQA_post.json: 675 posts with a sentiment score in [-1, 1], all committed as
  fiqa_posts.csv (a test set: never used to choose anything).
- SemEval2017Task5Headlines.json: 1,142 headlines with a score in [-1, 1], all committed as
  semeval2017_headlines.csv (a second test set).

--dev-report scores the DEV split with `TFT sentiment --plain` and `TFT sentiment`, prints
accuracy and macro-F1 at the best dev thresholds of each mode, and the words most
over-represented among the market mode's errors (what to look at next).
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data"
FIXTURES = REPO / "shared" / "tests" / "fixtures" / "sentiment"
SEED = 20_240_309
TEST_SHARE = 0.30
LABELS = {"0": "bearish", "1": "bullish", "2": "neutral"}


def tweets(data: Path) -> list[tuple[int, str, str]]:
    with (data / "sentiment" / "finance_tweets_train.csv").open(newline="", encoding="utf-8") as f:
        return [(i, r["label"], r["text"]) for i, r in enumerate(csv.DictReader(f))]


def split(rows):
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    n_test = round(len(rows) * TEST_SHARE)
    test = sorted(order[:n_test])
    dev = sorted(order[n_test:])
    return [rows[i] for i in dev], [rows[i] for i in test]


def write_fixtures(data: Path) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    _, test = split(tweets(data))
    with (FIXTURES / "finance_tweets_test.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["row", "label", "text"])
        w.writerows(test)
    fiqa = json.loads((data / "sentiment" / "FiQA_post.json").read_text(encoding="utf-8"))
    with (FIXTURES / "fiqa_posts.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "target", "score", "text"])
        for k, v in fiqa.items():
            (info,) = v["info"]
            w.writerow([k, info["target"], info["sentiment_score"], v["sentence"]])
    semeval = json.loads((data / "sentiment" / "SemEval2017Task5Headlines.json").read_text(encoding="utf-8"))
    with (FIXTURES / "semeval2017_headlines.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "company", "score", "text"])
        for h in semeval:
            w.writerow([h["id"], h["company"], h["sentiment"], h["title"]])
    for p in sorted(FIXTURES.glob("*.csv")):
        print(f"{p.relative_to(REPO)}: {p.stat().st_size / 1e3:.0f} kB")


def macro_f1(gold, pred):
    f1s = []
    for c in ("bearish", "neutral", "bullish"):
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / 3


def classify(c, lo, hi):
    return "bearish" if c < lo else "bullish" if c > hi else "neutral"


def best_thresholds(compounds, gold):
    grid = [round(-1 + 0.05 * i, 2) for i in range(41)]
    best = None
    for lo in grid:
        for hi in grid:
            if hi < lo:
                continue
            f = macro_f1(gold, [classify(c, lo, hi) for c in compounds])
            if best is None or f > best[0] + 1e-12:
                best = (f, lo, hi)
    return best


def score(tft: str, texts: list[str], plain: bool) -> list[float]:
    lines = [t.replace("\r", " ").replace("\n", " ") for t in texts]
    args = [tft, "sentiment"] + (["--plain"] if plain else [])
    out = subprocess.run(args, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    return [json.loads(l)["compound"] for l in out.stdout.splitlines()]


def dev_report(tft: str, data: Path, examples: int = 0) -> None:
    dev, _ = split(tweets(data))
    texts = [t for _, _, t in dev]
    gold = [LABELS[l] for _, l, _ in dev]
    results = {}
    for mode, plain in (("plain", True), ("market", False)):
        comp = score(tft, texts, plain)
        f, lo, hi = best_thresholds(comp, gold)
        pred = [classify(c, lo, hi) for c in comp]
        acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
        results[mode] = (comp, pred)
        print(f"DEV {mode:6}: thresholds ({lo}, {hi}) accuracy {acc:.4f} macro-F1 {f:.4f}")
    comp, pred = results["market"]
    conf = collections.Counter(zip(gold, pred))
    print("market confusion (gold -> predicted): " + ", ".join(
        f"{g}->{p} {conf[(g, p)]}" for g in ("bearish", "neutral", "bullish") for p in ("bearish", "neutral", "bullish")))
    if examples:
        rng = random.Random(1)
        for g, p in (("bullish", "neutral"), ("bearish", "neutral"), ("neutral", "bullish"), ("neutral", "bearish")):
            cases = [(c, t) for t, gg, pp, c in zip(texts, gold, pred, comp) if gg == g and pp == p]
            print(f"-- gold {g}, predicted {p}: {len(cases)}")
            for c, t in rng.sample(cases, min(examples, len(cases))):
                print(f"   {c:+.3f} {t[:120]!r}")
    # words over-represented in the market mode's errors, by gold class
    tok = re.compile(r"[a-z][a-z'-]+")
    err = collections.Counter()
    allw = collections.Counter()
    for t, g, p in zip(texts, gold, pred):
        ws = set(tok.findall(t.lower()))
        allw.update(ws)
        if g != p and g != "neutral":
            err.update((g, w) for w in ws)
    for g in ("bullish", "bearish"):
        top = sorted(((n, w) for (gg, w), n in err.items() if gg == g and allw[w] >= 8), reverse=True)[:60]
        print(f"missed {g}: " + ", ".join(f"{w}({n}/{allw[w]})" for n, w in top))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dev-report", metavar="TFT")
    parser.add_argument("--examples", type=int, default=0, help="with --dev-report: show N errors of each kind")
    args = parser.parse_args()
    if args.dev_report:
        dev_report(args.dev_report, args.data, args.examples)
    else:
        write_fixtures(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
