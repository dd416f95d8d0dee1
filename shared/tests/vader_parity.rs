//! Plain mode equals Python vaderSentiment 3.3.2 on real text.
//!
//! `golden/vader/plain_3.3.2.jsonl` holds ~3,000 real texts (WSB comments and post
//! titles, finance tweets, FiQA posts, SemEval headlines: emoji, emoticons, "!!!", ALL
//! CAPS, negations, "but", "kind of", idioms, mojibake) with the four scores Python
//! vaderSentiment 3.3.2 gives them (CPython 3.11). Made by `tools/golden/vader_golden.py`;
//! sources in `golden/vader/SOURCES.md`. Every row must match to 1e-4 on every field.
//!
//! `VADER_GOLDEN_EXTRA=PATH` checks another file of the same format too (e.g. the ~34,000
//! held-out texts `vader_golden.py --write-holdout PATH` writes).

use std::path::Path;

use shared::core::sentiment::SentimentAnalyzer;

const TOLERANCE: f64 = 1e-4;
const FIELDS: [&str; 4] = ["compound", "pos", "neu", "neg"];

/// Checks every row of a golden JSON Lines file; returns the row count.
fn check_golden_file(path: &Path) -> usize {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let analyzer = SentimentAnalyzer::plain();
    let mut max_diff = [0.0f64; 4];
    let mut failures = Vec::new();
    let mut rows = 0;
    for (n, line) in raw.lines().enumerate() {
        let row: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let text = row["text"].as_str().expect("text");
        let got = analyzer.polarity_scores(text);
        let got = [got.compound, got.pos, got.neu, got.neg];
        for (k, field) in FIELDS.iter().enumerate() {
            let want = row[field].as_f64().expect(field);
            let diff = (got[k] - want).abs();
            max_diff[k] = max_diff[k].max(diff);
            if diff > TOLERANCE {
                failures.push(format!(
                    "line {}: {field}: rust {} python {want} (diff {diff:.3e}) for text {text:?}",
                    n + 1,
                    got[k]
                ));
            }
        }
        rows += 1;
    }
    println!(
        "{}: {rows} rows; max |rust - python|: compound {:.3e}, pos {:.3e}, neu {:.3e}, neg {:.3e}",
        path.display(),
        max_diff[0],
        max_diff[1],
        max_diff[2],
        max_diff[3]
    );
    assert!(
        failures.is_empty(),
        "{}: {} field(s) differ from Python by more than {TOLERANCE}:\n{}",
        path.display(),
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    rows
}

#[test]
fn plain_mode_equals_python_vader_3_3_2_on_the_golden_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vader/plain_3.3.2.jsonl");
    let rows = check_golden_file(&path);
    assert!(rows >= 2000, "only {rows} golden rows");
}

/// A pass must mean rows were compared: without `VADER_GOLDEN_EXTRA` this test
/// compared nothing and still passed.
#[test]
fn plain_mode_equals_python_on_the_extra_file_if_given() {
    let rows = std::env::var_os("VADER_GOLDEN_EXTRA")
        .map(|path| check_golden_file(Path::new(&path)))
        .unwrap_or(0);
    assert!(
        rows > 0,
        "no extra file checked: set VADER_GOLDEN_EXTRA=PATH to run this test"
    );
}
