"""Golden file for the Rust VADER port, and a held-out check of `tft sentiment --plain`.

    cd tools && uv run python golden/vader_golden.py [--data DIR]
    cd tools && uv run python golden/vader_golden.py --check-cli ../target/release/tft [--limit N]

Default mode: samples real texts (never invented ones) with a fixed seed from
../shared/data (see SOURCES below), scores each with Python vaderSentiment 3.3.2 (pinned in
tools/uv.lock) and writes shared/tests/golden/vader/plain_3.3.2.jsonl: a `#`-free JSON Lines
file, one object per text `{"source", "text", "compound", "pos", "neu", "neg"}` with the
scores exactly as Python returns them (its own rounding: 4 decimals for compound, 3 for
the others), floats in repr form. shared/tests/vader_parity.rs replays it (no Python at
test time).

The sample is two parts: a uniform random part per source, and a "rules" part that picks,
for each VADER rule (emoji, emoticons, "!!!", "??", ALL CAPS, negations, "no", "but",
"kind of"/"sort of", boosters, "least", idioms, mojibake), up to K real texts containing it,
so every rule is exercised by real text.

--check-cli: every line of every source text that is NOT in the golden file (different
texts, plus sources the golden file never sampled: the 2019 r/wallstreetbets and
r/investing submission objects), shuffled with another seed, is piped through
`TFT sentiment --plain`; each output line is compared with Python on all four fields.
Prints the max difference per field and the mismatches; exits 1 on any difference > 1e-4.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path

from vaderSentiment import vaderSentiment as vs_module
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT = REPO / "shared" / "tests" / "golden" / "vader" / "plain_3.3.2.jsonl"
VADER_VERSION = "3.3.2"

SEED = 20_211_231
HOLDOUT_SEED = 4_242
MAX_CHARS = 600  # keeps the file small; longer texts are still checked by --check-cli
TOLERANCE = 1e-4
FIELDS = ("compound", "pos", "neu", "neg")

# source name -> how many uniformly sampled texts
UNIFORM = {
    "wsb_comments_2020-11_2021-12": 700,
    "wsb_comments_2021-01-16_02-07": 450,
    "wsb_posts_2021-01-01_04.title": 250,
    "wsb_posts_2021-01-01_04.text": 100,
    "wsb_posts_2020-12-01.title": 100,
    "finance_tweets_train": 300,
    "FiQA_post": 150,
    "SemEval2017Task5Headlines": 150,
}
# sources only the held-out check reads
HOLDOUT_ONLY = ("api_objects_wsb_2019", "api_objects_investing_2019")

RULES_PER_FEATURE = 40
FEATURES = {
    "emoji": re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]"),
    "emoticon": re.compile(r"(?:^|\s)(?::\)|:\(|:D|;\)|:P|:/|<3|:-\)|:-\(|xD|XD)(?:\s|$)"),
    "exclaim3": re.compile(r"!!!"),
    "exclaim_many": re.compile(r"!{5,}"),
    "question2": re.compile(r"\?\?"),
    "question4": re.compile(r"\?{4,}"),
    "all_caps_word": re.compile(r"\b[A-Z]{3,}\b.*\b[a-z]{3,}\b"),
    "all_caps_text": re.compile(r"^[^a-z]*[A-Z]{3,}[^a-z]*$"),
    "not": re.compile(r"\bnot\b", re.I),
    "n't": re.compile(r"n't\b", re.I),
    "never": re.compile(r"\bnever\b", re.I),
    "never_so_this": re.compile(r"\bnever (?:so|this)\b", re.I),
    "no": re.compile(r"\bno\b", re.I),
    "no_or_nor": re.compile(r"\bno \w+ (?:or|nor)\b", re.I),
    "without": re.compile(r"\bwithout\b", re.I),
    "but": re.compile(r"\bbut\b", re.I),
    "kind_of": re.compile(r"\b(?:kind of|sort of|kinda|sorta)\b", re.I),
    "booster": re.compile(r"\b(?:very|so|really|extremely|fucking|totally|most|more)\b", re.I),
    "dampener": re.compile(r"\b(?:barely|hardly|slightly|somewhat|little|less|almost)\b", re.I),
    "least": re.compile(r"\bleast\b", re.I),
    "idiom": re.compile(r"\b(?:the shit|the bomb|bad ass|badass|yeah right|to die for|kiss of death)\b", re.I),
    "special_quote": re.compile("[\u2018\u2019\u201c\u201d]"),
    "mojibake": re.compile("\u00e2\u20ac"),
    "non_ascii_letters": re.compile("[\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]"),
}


def _csv_column(path: Path, column: str) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f) if row.get(column)]


def load_pool(data: Path) -> dict[str, list[str]]:
    """source -> distinct non-empty texts, in file order."""
    reddit, sent = data / "reddit", data / "sentiment"
    posts0 = reddit / "wsb_posts_2021-01-01_04.csv"
    posts1 = reddit / "wsb_posts_2020-12-01.csv"
    fiqa = json.loads((sent / "FiQA_post.json").read_text(encoding="utf-8"))
    semeval = json.loads((sent / "SemEval2017Task5Headlines.json").read_text(encoding="utf-8"))
    raw = {
        "wsb_comments_2020-11_2021-12": _csv_column(reddit / "wsb_comments_2020-11_2021-12.csv", "Comment"),
        # this file's comment body is in the column named `title`
        "wsb_comments_2021-01-16_02-07": _csv_column(reddit / "wsb_comments_2021-01-16_02-07.csv", "title"),
        "wsb_posts_2021-01-01_04.title": _csv_column(posts0, "title"),
        "wsb_posts_2021-01-01_04.text": _csv_column(posts0, "text"),
        "wsb_posts_2020-12-01.title": _csv_column(posts1, "title"),
        "wsb_posts_2020-12-01.text": _csv_column(posts1, "text"),
        "finance_tweets_train": _csv_column(sent / "finance_tweets_train.csv", "text"),
        "FiQA_post": [v["sentence"] for v in fiqa.values()],
        "SemEval2017Task5Headlines": [h["title"] for h in semeval],
        "api_objects_wsb_2019": _csv_column(reddit / "api_objects_wsb_2019.csv", "title")
        + _csv_column(reddit / "api_objects_wsb_2019.csv", "selftext"),
        "api_objects_investing_2019": _csv_column(reddit / "api_objects_investing_2019.csv", "title")
        + _csv_column(reddit / "api_objects_investing_2019.csv", "selftext"),
    }
    pool = {}
    for name, texts in raw.items():
        seen, kept = set(), []
        for t in texts:
            if t.strip() and t not in seen:
                seen.add(t)
                kept.append(t)
        pool[name] = kept
    return pool


def sample_golden(pool: dict[str, list[str]]) -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    chosen: list[tuple[str, str]] = []
    taken: set[str] = set()

    def take(source: str, text: str) -> None:
        if text not in taken:
            taken.add(text)
            chosen.append((source, text))

    for source, n in UNIFORM.items():
        short = [t for t in pool[source] if len(t) <= MAX_CHARS]
        for t in rng.sample(short, min(n, len(short))):
            take(source, t)
    golden_sources = [s for s in pool if s not in HOLDOUT_ONLY]
    candidates = [(s, t) for s in golden_sources for t in pool[s] if len(t) <= MAX_CHARS]
    for feature, pattern in FEATURES.items():
        hits = [(s, t) for s, t in candidates if t not in taken and pattern.search(t)]
        for s, t in rng.sample(hits, min(RULES_PER_FEATURE, len(hits))):
            take(f"{s}#{feature}", t)
    return chosen


def write_golden(data: Path) -> None:
    pool = load_pool(data)
    rows = sample_golden(pool)
    analyzer = SentimentIntensityAnalyzer()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="\n") as f:
        for source, text in rows:
            s = analyzer.polarity_scores(text)
            row = {"source": source, "text": text, **{k: s[k] for k in FIELDS}}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    size = OUT.stat().st_size
    print(f"wrote {len(rows)} rows ({size / 1e6:.2f} MB) to {OUT.relative_to(REPO)}")
    print(f"vaderSentiment {VADER_VERSION} from {vs_module.__file__}, Python {sys.version.split()[0]}")


def holdout_lines(data: Path, limit: int | None) -> list[str]:
    pool = load_pool(data)
    golden = set()
    if OUT.exists():
        with OUT.open(encoding="utf-8") as f:
            golden = {json.loads(line)["text"] for line in f}
    lines, seen = [], set()
    for texts in pool.values():
        for t in texts:
            if t in golden:
                continue
            # the CLI reads one text per line: score each line of a multi-line text
            for line in t.splitlines():
                line = line.strip("\r\n")
                if line.strip() and line not in seen and line not in golden and "\n" not in line:
                    seen.add(line)
                    lines.append(line)
    random.Random(HOLDOUT_SEED).shuffle(lines)
    return lines[:limit] if limit else lines


def write_holdout(path: Path, data: Path) -> None:
    """Whole texts (multi-line ones included) and their lines, none in the golden file."""
    pool = load_pool(data)
    with OUT.open(encoding="utf-8") as f:
        golden = {json.loads(line)["text"] for line in f}
    texts = holdout_lines(data, None)
    seen = set(texts)
    for ts in pool.values():
        for t in ts:
            if t not in golden and t not in seen:
                seen.add(t)
                texts.append(t)
    analyzer = SentimentIntensityAnalyzer()
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            s = analyzer.polarity_scores(t)
            f.write(json.dumps({"source": "holdout", "text": t, **{k: s[k] for k in FIELDS}}, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} held-out texts to {path}")


def check_cli(tft: str, data: Path, limit: int | None) -> int:
    # str.splitlines() splits on more separators than "\n" (e.g. \x1c, \u2028): keep only
    # lines that stay one line for a "\n"-splitting reader.
    lines = [
        line
        for line in holdout_lines(data, limit)
        if line.split("\n") == [line] and "\r" not in line and line.splitlines() == [line]
    ]
    analyzer = SentimentIntensityAnalyzer()
    proc = subprocess.run(
        [tft, "sentiment", "--plain"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    outputs = proc.stdout.splitlines()
    if len(outputs) != len(lines):
        print(f"expected {len(lines)} output lines, got {len(outputs)}")
        return 1
    max_diff = dict.fromkeys(FIELDS, 0.0)
    bad = 0
    for text, out in zip(lines, outputs):
        got = json.loads(out)
        want = analyzer.polarity_scores(text)
        for k in FIELDS:
            d = abs(got[k] - want[k])
            max_diff[k] = max(max_diff[k], d)
            if d > TOLERANCE:
                bad += 1
                if bad <= 20:
                    print(f"MISMATCH {k}: rust {got[k]} python {want[k]} text {text!r}")
    print(f"{len(lines)} held-out lines; max |rust - python|: "
          + ", ".join(f"{k} {v:.3g}" for k, v in max_diff.items()))
    print(f"{bad} field mismatches > {TOLERANCE}")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--check-cli", metavar="TFT", help="check `TFT sentiment --plain` on held-out lines")
    parser.add_argument("--limit", type=int, help="with --check-cli: check at most N lines")
    parser.add_argument(
        "--write-holdout",
        metavar="PATH",
        help="write every text and line not in the golden file, scored by Python, as JSON Lines "
        "(check with VADER_GOLDEN_EXTRA=PATH cargo test -p shared --test vader_parity -- --ignored)",
    )
    args = parser.parse_args()
    if args.check_cli:
        return check_cli(args.check_cli, args.data, args.limit)
    if args.write_holdout:
        write_holdout(Path(args.write_holdout), args.data)
        return 0
    write_golden(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
