//! `tft sentiment [--plain]`: VADER scores and tickers of texts, one per line.
//!
//! Contract (kept stable; outside checks parse it): stdin holds one text per line (UTF-8;
//! invalid bytes are replaced by U+FFFD, a trailing `\r` is dropped); stdout gets one JSON
//! object per input line, in order:
//! `{"compound":0.4588,"pos":0.529,"neu":0.471,"neg":0.0,"tickers":["GME"]}`. The scores
//! are market-mode VADER, or with `--plain` exactly Python vaderSentiment 3.3.2's
//! `polarity_scores` (compound rounded to 4 decimals, the others to 3); `tickers` is
//! `TickerExtractor::us_listed().extract(text)` (sorted, storage spelling).
//!
//! `tft bench-sentiment --file FILE [--column NAME] [--plain]` (hidden) loads the texts
//! (a CSV column, or one text per line), then times only the scoring, best of
//! `BENCH_REPEATS`; `tools/bench/sentiment_vs_python.py` compares it with Python.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use shared::core::sentiment::{SentimentAnalyzer, SentimentScores};
use shared::core::tickers::TickerExtractor;

/// How many times `bench` scores all the texts (the best time is reported).
const BENCH_REPEATS: usize = 5;

/// Scores each line of `input` and writes one JSON object per line to `out`.
pub fn run(plain: bool, mut input: impl BufRead, out: &mut dyn Write) -> anyhow::Result<()> {
    let analyzer = analyzer(plain);
    let tickers = TickerExtractor::us_listed();
    let mut raw = Vec::with_capacity(4096);
    let mut line_out = Vec::with_capacity(256);
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw).context("reading stdin")? == 0 {
            break;
        }
        if raw.last() == Some(&b'\n') {
            raw.pop();
            if raw.last() == Some(&b'\r') {
                raw.pop();
            }
        }
        let text = String::from_utf8_lossy(&raw);
        line_out.clear();
        write_line(
            &mut line_out,
            &analyzer.polarity_scores(&text),
            &tickers.extract(&text),
        )?;
        out.write_all(&line_out)?;
    }
    out.flush()?;
    Ok(())
}

fn analyzer(plain: bool) -> &'static SentimentAnalyzer {
    if plain {
        SentimentAnalyzer::plain()
    } else {
        SentimentAnalyzer::market()
    }
}

/// `{"compound":..,"pos":..,"neu":..,"neg":..,"tickers":[..]}` and a newline.
fn write_line(out: &mut Vec<u8>, s: &SentimentScores, tickers: &[String]) -> anyhow::Result<()> {
    out.extend_from_slice(b"{\"compound\":");
    serde_json::to_writer(&mut *out, &s.compound)?;
    out.extend_from_slice(b",\"pos\":");
    serde_json::to_writer(&mut *out, &s.pos)?;
    out.extend_from_slice(b",\"neu\":");
    serde_json::to_writer(&mut *out, &s.neu)?;
    out.extend_from_slice(b",\"neg\":");
    serde_json::to_writer(&mut *out, &s.neg)?;
    out.extend_from_slice(b",\"tickers\":");
    serde_json::to_writer(&mut *out, tickers)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Loads the texts of `file` (the CSV column `column`, or else one text per line), then
/// scores all of them `BENCH_REPEATS` times and returns the best wall time of one pass as
/// `{"texts": N, "seconds": S, "mode": "plain"|"market"}`. Loading is not timed; the
/// analyzer is built before the clock starts.
pub fn bench(file: &Path, column: Option<&str>, plain: bool) -> anyhow::Result<serde_json::Value> {
    let texts = load_texts(file, column)?;
    if texts.is_empty() {
        bail!("no texts in {}", file.display());
    }
    let analyzer = analyzer(plain);
    analyzer.polarity_scores("warm up");
    let mut best = Duration::MAX;
    let mut checksum = 0.0;
    for _ in 0..BENCH_REPEATS {
        let start = Instant::now();
        let mut sum = 0.0;
        for text in &texts {
            sum += analyzer
                .polarity_scores(std::hint::black_box(text))
                .compound;
        }
        best = best.min(start.elapsed());
        checksum = std::hint::black_box(sum);
    }
    Ok(serde_json::json!({
        "texts": texts.len(),
        "seconds": best.as_secs_f64(),
        "mode": if plain { "plain" } else { "market" },
        "compound_sum": checksum,
    }))
}

fn load_texts(file: &Path, column: Option<&str>) -> anyhow::Result<Vec<String>> {
    let context = || format!("reading {}", file.display());
    match column {
        Some(column) => {
            let mut reader = csv::Reader::from_path(file).with_context(context)?;
            let headers = reader.headers().with_context(context)?.clone();
            let Some(idx) = headers.iter().position(|h| h == column) else {
                bail!("{}: no column {column:?}", file.display());
            };
            let mut texts = Vec::new();
            for record in reader.records() {
                let record = record.with_context(context)?;
                texts.push(record.get(idx).unwrap_or_default().to_owned());
            }
            Ok(texts)
        }
        None => Ok(std::fs::read_to_string(file)
            .with_context(context)?
            .lines()
            .map(str::to_owned)
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(plain: bool, input: &[u8]) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        run(plain, input, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn one_json_object_per_line_in_contract_order() {
        let mut out = Vec::new();
        run(true, &b"The book was good.\n"[..], &mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "{\"compound\":0.4404,\"pos\":0.492,\"neu\":0.508,\"neg\":0.0,\"tickers\":[]}\n"
        );
    }

    #[test]
    fn plain_is_python_vader_and_market_differs() {
        let plain = run_on(true, "Tendies incoming!!!!\n".as_bytes());
        assert_eq!(plain[0]["compound"], 0.0);
        assert_eq!(plain[0]["neu"], 1.0);
        let market = run_on(false, "Tendies incoming!!!!\n".as_bytes());
        assert!(market[0]["compound"].as_f64().unwrap() > 0.5);
    }

    #[test]
    fn every_line_gets_a_line_even_empty_or_invalid_utf8() {
        let rows = run_on(true, b"good\n\n\xff bad \r\nlast line without newline");
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1]["compound"], 0.0);
        assert_eq!(rows[1]["neu"], 0.0); // Python: no words, all four scores 0.0
        assert!(rows[2]["compound"].as_f64().unwrap() < 0.0);
        assert!(rows[3]["tickers"].as_array().unwrap().is_empty());
    }

    #[test]
    fn tickers_come_from_the_ticker_extractor() {
        let rows = run_on(false, "$GME and TSLA to the moon 🚀\n".as_bytes());
        let tickers: Vec<&str> = rows[0]["tickers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tickers, ["GME", "TSLA"]);
        assert!(rows[0]["compound"].as_f64().unwrap() > 0.5);
    }

    #[test]
    fn bench_reads_a_csv_column_or_lines() {
        let dir = std::env::temp_dir().join(format!("tft-sentiment-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv_path = dir.join("c.csv");
        std::fs::write(&csv_path, "id,Comment\n1,\"good, really\"\n2,bad\n").unwrap();
        let r = bench(&csv_path, Some("Comment"), true).unwrap();
        assert_eq!(r["texts"], 2);
        assert!(bench(&csv_path, Some("Nope"), true).is_err());
        let r = bench(&csv_path, None, false).unwrap();
        assert_eq!(r["texts"], 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
