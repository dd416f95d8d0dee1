//! Ticker extraction measured on 350 real Reddit comments and posts labelled by hand
//! (`tests/fixtures/ticker_labels.jsonl`, sources in `ticker_labels.SOURCES.md`).
//!
//! Micro precision and recall: every (text, ticker) pair predicted and labelled is a true
//! positive. The rules were tuned on the `tune` split only; the `heldout` split was scored
//! once at the end (docs/tickers.md). The acceptance bar is on all texts.
//!
//! `TICKER_EVAL_SPLIT=tune` restricts the printed misses to one split.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Deserialize;
use shared::core::tickers::TickerExtractor;

#[derive(Deserialize)]
struct Labelled {
    id: String,
    source: String,
    split: String,
    text: String,
    tickers: Vec<String>,
}

#[derive(Default)]
struct Score {
    texts: usize,
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
    fn line(&self, name: &str) -> String {
        format!(
            "{name:<8} texts {:>3}  labels {:>3}  predicted {:>3}  TP {:>3}  FP {:>2}  FN {:>2}  precision {:.3}  recall {:.3}",
            self.texts,
            self.tp + self.fn_,
            self.tp + self.fp,
            self.tp,
            self.fp,
            self.fn_,
            self.precision(),
            self.recall()
        )
    }
}

fn labels() -> Vec<Labelled> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ticker_labels.jsonl");
    let text = std::fs::read_to_string(&path).expect("ticker_labels.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a labelled line"))
        .collect()
}

fn snippet(text: &str) -> String {
    let one_line: String = text
        .chars()
        .take(140)
        .collect::<String>()
        .replace('\n', " ");
    one_line
}

#[test]
fn precision_and_recall_on_hand_labelled_reddit_text() {
    let extractor = TickerExtractor::us_listed();
    let labelled = labels();
    assert!(
        labelled.len() >= 300,
        "only {} labelled texts",
        labelled.len()
    );
    let show = std::env::var("TICKER_EVAL_SPLIT").ok();

    let (mut tune, mut heldout, mut all) = (Score::default(), Score::default(), Score::default());
    let mut report = Vec::new();
    for item in &labelled {
        let predicted: BTreeSet<String> = extractor.extract(&item.text).into_iter().collect();
        let expected: BTreeSet<String> = item.tickers.iter().cloned().collect();
        let split = match item.split.as_str() {
            "tune" => &mut tune,
            "heldout" => &mut heldout,
            other => panic!("{}: unknown split {other}", item.id),
        };
        for s in [&mut *split, &mut all] {
            s.texts += 1;
            s.tp += predicted.intersection(&expected).count();
            s.fp += predicted.difference(&expected).count();
            s.fn_ += expected.difference(&predicted).count();
        }
        if predicted != expected && show.as_deref().is_none_or(|s| s == item.split) {
            let missed: Vec<_> = expected.difference(&predicted).collect();
            let extra: Vec<_> = predicted.difference(&expected).collect();
            report.push(format!(
                "  [{}] {} ({}) missed {:?} extra {:?}: {}",
                item.split,
                item.id,
                item.source,
                missed,
                extra,
                snippet(&item.text)
            ));
        }
    }
    println!("ticker extraction on hand-labelled Reddit text (micro-averaged)");
    if show.as_deref().is_none_or(|s| s == "tune") {
        println!("{}", tune.line("tune"));
    }
    if show.as_deref().is_none_or(|s| s == "heldout") {
        println!("{}", heldout.line("heldout"));
    }
    if show.is_none() {
        println!("{}", all.line("all"));
    }
    println!("texts where prediction != label ({}):", report.len());
    for line in &report {
        println!("{line}");
    }
    if show.is_none() {
        // The same texts with only universe symbols accepted (no unknown cashtags).
        let strict = extractor.clone().with_unknown_cashtags(false);
        let mut score = Score::default();
        for item in &labelled {
            let predicted: BTreeSet<String> = strict.extract(&item.text).into_iter().collect();
            let expected: BTreeSet<String> = item.tickers.iter().cloned().collect();
            score.texts += 1;
            score.tp += predicted.intersection(&expected).count();
            score.fp += predicted.difference(&expected).count();
            score.fn_ += expected.difference(&predicted).count();
        }
        println!("{}", score.line("strict"));
        assert!(
            all.precision() >= 0.95,
            "precision {:.3} < 0.95",
            all.precision()
        );
        assert!(all.recall() >= 0.90, "recall {:.3} < 0.90", all.recall());
    }
}
