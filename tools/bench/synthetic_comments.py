"""A synthetic Pushshift comments stream (NDJSON on stdout) built from the bundled real
WSB comments, for the `tft sentiment-file` benchmark (tools/bench/sentiment_file.sh).

Texts are the bundled comments drawn at random (so the mix of ticker mentions, emoji and
length is real), authors come from a pool of 50,000 with a skewed activity (2 % are
"[deleted]"), and creation times rise evenly from 2019-01-01 to 2021-12-31, alternating
the numeric and string forms of `created_utc` as Pushshift's dumps do. Deterministic for
a given --seed. Standard library only.

    python3 tools/bench/synthetic_comments.py --items 5000000 > comments.ndjson
"""

import argparse
import csv
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START = 1546318800  # 2019-01-01 05:00 UTC
END = 1640926800  # 2021-12-31 05:00 UTC


def texts() -> list[str]:
    csv.field_size_limit(1 << 24)
    out = []
    sample = REPO / "data" / "sample" / "reddit"
    with open(sample / "wsb_comments_2020-11_2021-12.csv", newline="", encoding="utf-8") as f:
        out += [r["Comment"] for r in csv.DictReader(f) if r["Comment"].strip()]
    with open(sample / "wsb_comments_2021-01-16_02-07.csv", newline="", encoding="utf-8") as f:
        out += [r["title"] for r in csv.DictReader(f) if r["title"].strip()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pool = texts()
    authors = [f"ape_{k}" for k in range(50_000)]
    out = sys.stdout
    step = (END - START) / max(args.items, 1)
    for k in range(args.items):
        # Skewed activity: a few authors write much of the stream.
        author = "[deleted]" if rng.random() < 0.02 else authors[int(len(authors) * rng.random() ** 3)]
        created = START + int(k * step)
        doc = {
            "id": f"s{k:x}",
            "author": author,
            "created_utc": created if k % 2 else str(created),
            "subreddit": "wallstreetbets",
            "body": rng.choice(pool),
            "score": int(rng.paretovariate(1.5)) - 1,
            "link_id": f"t3_d{k // 500:x}",
            "parent_id": f"t3_d{k // 500:x}",
        }
        out.write(json.dumps(doc, ensure_ascii=False))
        out.write("\n")


if __name__ == "__main__":
    main()
