//! `tft sentiment-file ARCHIVE... --out FILE`: Reddit archives of any size, in any format
//! `reddit_archive` reads, turned into the daily sentiment file (`adapters::sentiment_csv`)
//! with bounded memory, so a decade of comments is scored once, not on every backtest.
//!
//! The path:
//! 1. one reader thread streams the files in the order given (one item at a time, a zstd
//!    window at most) and hands out chunks of items;
//! 2. `workers` threads score each chunk on the one scoring path
//!    (`reddit_rows::score_text`: tickers, market-mode VADER); items with no ticker are
//!    dropped there;
//! 3. the scored mentions are spilled to a temporary directory, one file per ISO week of
//!    the trading day whose window (16:30 to 16:30, `SentimentWindow`) holds them;
//! 4. each week is then read back alone, its duplicates dropped, and reduced per trading
//!    day with `mention_sentiment::aggregate`, the function the live features and the
//!    backtester use.
//!
//! Why spill rather than flush each day as the stream passes it: the archives are
//! time-ordered one file at a time, but a day's items come from several files (a month's
//! submissions file, then its comments file; r/stocks after r/wallstreetbets), and the
//! Kaggle CSV exports are not in time order at all. Spilling makes the result independent
//! of file order and of the order inside a file, and bounds memory by one week's
//! mentions instead of the input's size.
//!
//! Duplicates: an item is keyed by its Reddit fullname (or the stable synthetic id of the
//! formats without one), as in the database. The same item read twice (two overlapping
//! dumps, or twice in one) counts once: the copy read first is kept, as `tft backtest
//! --posts` keeps it. Both copies have the same creation time, so they meet in one week.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::adapters::reddit::RedditItem;
use crate::adapters::reddit_archive::{ArchiveFormat, ArchiveReader, Compression, ReadStats};
use crate::adapters::sentiment_csv::SentimentCsvWriter;
use crate::core::mention_sentiment::{aggregate, ScoredItem, SentimentWindow};
use crate::jobs::reddit_rows::score_text;

/// Items per chunk handed to a scoring thread.
const CHUNK_ITEMS: usize = 2_048;
/// Week files kept open at once while spilling (the rest are reopened to append).
const MAX_OPEN_WEEKS: usize = 16;

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Scoring threads (the reader and the spill writer run beside them).
    pub workers: usize,
    /// Where the week files go (default: the system's temporary directory).
    pub spill_dir: Option<PathBuf>,
    /// The subreddits kept (`None`: all); the others are counted as skipped.
    pub subreddits: Option<Vec<String>>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            spill_dir: None,
            subreddits: None,
        }
    }
}

/// What one file gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileRead {
    pub path: PathBuf,
    pub format: ArchiveFormat,
    pub compression: Compression,
    pub stats: ReadStats,
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BuildSummary {
    pub files: Vec<FileRead>,
    /// Items read from every file.
    pub items: u64,
    /// Items that mention at least one ticker (before duplicates are dropped).
    pub with_tickers: u64,
    /// Copies of an item already read, dropped.
    pub duplicates: u64,
    /// The first and last trading day with a row.
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// Rows (ticker, trading day) written.
    pub rows: u64,
    /// Week files spilled, and the most mentions one held (what bounds memory).
    pub weeks: usize,
    pub largest_week_items: u64,
}

/// Progress, reported from the calling thread as chunks are scored.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub items: u64,
    pub with_tickers: u64,
    /// The latest creation time seen so far.
    pub reached: Option<DateTime<Utc>>,
}

/// A chunk of items, numbered in read order.
struct Chunk {
    first_seq: u64,
    items: Vec<RedditItem>,
}

/// A scored chunk: its items with tickers, each with its read-order number.
struct Scored {
    items: u64,
    latest: Option<DateTime<Utc>>,
    mentions: Vec<(u64, ScoredItem)>,
}

/// Builds the daily sentiment file of `files` into `out`. A file that cannot be opened
/// (missing, unknown format) fails the build before anything is written; a bad line in a
/// file is counted and reported in its [`ReadStats`] and the rest of the file is read.
pub fn build(
    files: &[PathBuf],
    out: impl Write,
    options: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<BuildSummary> {
    // Open every file first: an unknown format is an error before hours of scoring.
    let readers = files
        .iter()
        .map(|p| {
            let reader =
                ArchiveReader::open(p).with_context(|| format!("opening {}", p.display()))?;
            Ok(match &options.subreddits {
                Some(keep) => reader.only_subreddits(keep),
                None => reader,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dir = match &options.spill_dir {
        Some(d) => tempfile::Builder::new()
            .prefix("tft-sentiment-")
            .tempdir_in(d),
        None => tempfile::Builder::new().prefix("tft-sentiment-").tempdir(),
    }
    .context("creating the spill directory")?;
    let mut spill = Spill::new(dir.path());
    let mut summary = BuildSummary::default();
    let workers = options.workers.max(1);

    let files_read = std::thread::scope(|s| -> anyhow::Result<Vec<FileRead>> {
        let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(workers * 2);
        let (scored_tx, scored_rx) = sync_channel::<Scored>(workers * 2);
        let reader = s.spawn(move || read_files(files, readers, chunk_tx));
        let chunk_rx = Arc::new(Mutex::new(chunk_rx));
        for _ in 0..workers {
            let rx = Arc::clone(&chunk_rx);
            let tx = scored_tx.clone();
            s.spawn(move || score_chunks(&rx, |scored| tx.send(scored).is_ok()));
        }
        drop(scored_tx);
        // On a spill error the receiver is dropped: the workers and then the reader stop.
        let spilled = spill_all(scored_rx, &mut spill, &mut summary, progress);
        let files_read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the archive reader thread panicked"));
        spilled?;
        files_read
    })?;
    summary.files = files_read;
    reduce(&mut spill, out, &mut summary)?;
    Ok(summary)
}

fn read_files(
    files: &[PathBuf],
    readers: Vec<ArchiveReader<'static>>,
    chunks: std::sync::mpsc::SyncSender<Chunk>,
) -> Vec<FileRead> {
    let mut seq = 0u64;
    let mut read = Vec::with_capacity(files.len());
    for (path, mut reader) in files.iter().zip(readers) {
        loop {
            let items: Vec<RedditItem> = reader.by_ref().take(CHUNK_ITEMS).collect();
            if items.is_empty() {
                break;
            }
            let n = items.len() as u64;
            if chunks
                .send(Chunk {
                    first_seq: seq,
                    items,
                })
                .is_err()
            {
                break;
            }
            seq += n;
        }
        read.push(FileRead {
            path: path.clone(),
            format: reader.format(),
            compression: reader.compression(),
            stats: reader.stats().clone(),
        });
    }
    read
}

fn score_chunks(chunks: &Mutex<Receiver<Chunk>>, mut send: impl FnMut(Scored) -> bool) {
    loop {
        // A poisoned lock only means another scorer panicked; the receiver is still whole.
        let chunk = match chunks.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(chunk) => chunk,
            Err(_) => return,
        };
        let mut scored = Scored {
            items: chunk.items.len() as u64,
            latest: chunk.items.iter().map(|i| i.created_utc).max(),
            mentions: Vec::new(),
        };
        for (k, item) in chunk.items.into_iter().enumerate() {
            let (tickers, sentiment) = score_text(&item);
            if tickers.is_empty() {
                continue;
            }
            scored.mentions.push((
                chunk.first_seq + k as u64,
                ScoredItem {
                    post_id: item.fullname,
                    author: item.author,
                    tickers,
                    sentiment,
                    score: item.score,
                    created_at: item.created_utc,
                },
            ));
        }
        if !send(scored) {
            return;
        }
    }
}

fn spill_all(
    scored: Receiver<Scored>,
    spill: &mut Spill,
    summary: &mut BuildSummary,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<()> {
    let mut reached: Option<DateTime<Utc>> = None;
    for chunk in scored {
        summary.items += chunk.items;
        summary.with_tickers += chunk.mentions.len() as u64;
        reached = reached.max(chunk.latest);
        for (seq, item) in &chunk.mentions {
            spill
                .write(*seq, item)
                .context("spilling scored mentions")?;
        }
        progress(Progress {
            items: summary.items,
            with_tickers: summary.with_tickers,
            reached,
        });
    }
    Ok(())
}

/// Reads each week back, drops duplicates, aggregates per trading day, writes the rows.
fn reduce(spill: &mut Spill, out: impl Write, summary: &mut BuildSummary) -> anyhow::Result<()> {
    spill.close_all()?;
    let mut csv = SentimentCsvWriter::new(out)?;
    summary.weeks = spill.weeks.len();
    for (&week, &count) in &spill.weeks {
        summary.largest_week_items = summary.largest_week_items.max(count);
        let path = spill.path(week);
        let mut items = read_week(&path)
            .with_context(|| format!("reading back the spill file {}", path.display()))?;
        // The first copy read of each item (lowest read number) is kept.
        items.sort_by(|a, b| a.1.post_id.cmp(&b.1.post_id).then(a.0.cmp(&b.0)));
        let before = items.len();
        items.dedup_by(|a, b| a.1.post_id == b.1.post_id);
        summary.duplicates += (before - items.len()) as u64;
        let mut items: Vec<ScoredItem> = items.into_iter().map(|(_, i)| i).collect();
        items.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.post_id.cmp(&b.post_id))
        });
        let mut start = 0;
        while start < items.len() {
            let window = SentimentWindow::containing(items[start].created_at);
            let end = start + items[start..].partition_point(|i| i.created_at < window.cutoff);
            for row in aggregate(&items[start..end], &window) {
                csv.write(&row)?;
            }
            summary.first_day = summary.first_day.or(Some(window.trading_date));
            summary.last_day = Some(window.trading_date);
            start = end;
        }
        std::fs::remove_file(&path).ok();
    }
    summary.rows = csv.rows();
    csv.finish()?.flush()?;
    Ok(())
}

/// The week files: one per ISO week of the trading day, appended in any order.
struct Spill {
    dir: PathBuf,
    /// Week key -> mentions written.
    weeks: BTreeMap<i32, u64>,
    open: HashMap<i32, (BufWriter<File>, u64)>,
    clock: u64,
    buf: Vec<u8>,
}

impl Spill {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            weeks: BTreeMap::new(),
            open: HashMap::new(),
            clock: 0,
            buf: Vec::with_capacity(256),
        }
    }

    fn path(&self, week: i32) -> PathBuf {
        self.dir.join(format!("{week}.bin"))
    }

    fn write(&mut self, seq: u64, item: &ScoredItem) -> std::io::Result<()> {
        let week = week_of(SentimentWindow::containing(item.created_at).trading_date);
        self.clock += 1;
        if !self.open.contains_key(&week) && self.open.len() >= MAX_OPEN_WEEKS {
            // The week written least recently is closed (reopened to append if needed).
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(w, _)| *w);
            if let Some((mut w, _)) = oldest.and_then(|week| self.open.remove(&week)) {
                w.flush()?;
            }
        }
        let path = self.path(week);
        let (writer, used) = match self.open.entry(week) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let file = OpenOptions::new().create(true).append(true).open(path)?;
                e.insert((BufWriter::with_capacity(1 << 16, file), 0))
            }
        };
        *used = self.clock;
        encode(seq, item, &mut self.buf);
        writer.write_all(&self.buf)?;
        *self.weeks.entry(week).or_insert(0) += 1;
        Ok(())
    }

    fn close_all(&mut self) -> std::io::Result<()> {
        for (_, (mut w, _)) in self.open.drain() {
            w.flush()?;
        }
        Ok(())
    }
}

/// An ISO week as one sortable number: 2021-W04 is 202104.
fn week_of(day: NaiveDate) -> i32 {
    let w = day.iso_week();
    w.year() * 100 + w.week() as i32
}

/// One spilled mention: read number, creation time (µs), score, compound, then the
/// post id, the author (absent: length u32::MAX) and the tickers, length-prefixed.
fn encode(seq: u64, item: &ScoredItem, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&item.created_at.timestamp_micros().to_le_bytes());
    buf.extend_from_slice(&item.score.to_le_bytes());
    buf.extend_from_slice(&item.sentiment.to_bits().to_le_bytes());
    let text = |s: &str, buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    };
    text(&item.post_id, buf);
    match &item.author {
        Some(a) => text(a, buf),
        None => buf.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
    buf.extend_from_slice(&(item.tickers.len() as u32).to_le_bytes());
    for t in &item.tickers {
        text(t, buf);
    }
}

fn read_week(path: &Path) -> std::io::Result<Vec<(u64, ScoredItem)>> {
    let mut input = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut items = Vec::new();
    let mut word = [0u8; 8];
    loop {
        match input.read_exact(&mut word) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let seq = u64::from_le_bytes(word);
        let micros = read_u64(&mut input)? as i64;
        let score = read_u64(&mut input)? as i64;
        let sentiment = f64::from_bits(read_u64(&mut input)?);
        let post_id = read_text(&mut input)?
            .ok_or_else(|| std::io::Error::other("a spilled mention without its post id"))?;
        let author = read_text(&mut input)?;
        let n = read_u32(&mut input)?;
        let tickers = (0..n)
            .map(|_| read_text(&mut input).map(|t| t.unwrap_or_default()))
            .collect::<std::io::Result<Vec<_>>>()?;
        let created_at = DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| std::io::Error::other("a spilled time out of range"))?;
        items.push((
            seq,
            ScoredItem {
                post_id,
                author,
                tickers,
                sentiment,
                score,
                created_at,
            },
        ));
    }
    Ok(items)
}

fn read_u64(input: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_u32(input: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_text(input: &mut impl Read) -> std::io::Result<Option<String>> {
    let n = read_u32(input)?;
    if n == u32::MAX {
        return Ok(None);
    }
    let mut b = vec![0u8; n as usize];
    input.read_exact(&mut b)?;
    String::from_utf8(b)
        .map(Some)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spilled_mention_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path());
        let items = [
            ScoredItem {
                post_id: "t1_a".into(),
                author: None,
                tickers: vec!["GME".into(), "AMC".into()],
                sentiment: -0.123456789,
                score: -3,
                created_at: "2021-01-27T21:30:00.5Z".parse().unwrap(),
            },
            ScoredItem {
                post_id: "t3_é".into(),
                author: Some("someone".into()),
                tickers: vec!["TSLA".into()],
                sentiment: 0.5,
                score: 12_345,
                created_at: "2014-03-03T14:00:00Z".parse().unwrap(),
            },
        ];
        for (k, item) in items.iter().enumerate() {
            spill.write(k as u64 + 7, item).unwrap();
        }
        spill.close_all().unwrap();
        assert_eq!(spill.weeks.len(), 2);
        let mut back = Vec::new();
        for &week in spill.weeks.keys() {
            back.extend(read_week(&spill.path(week)).unwrap());
        }
        back.sort_by_key(|(seq, _)| *seq);
        assert_eq!(back, vec![(7, items[0].clone()), (8, items[1].clone())]);
        // 2021-01-27 21:30 UTC is 16:30 New York: the window of the 28th.
        assert_eq!(*spill.weeks.keys().last().unwrap(), 202104);
    }

    #[test]
    fn more_weeks_than_open_files_are_closed_and_reopened_without_losing_a_mention() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path());
        let start: DateTime<Utc> = "2019-01-07T15:00:00Z".parse().unwrap();
        let weeks = 3 * MAX_OPEN_WEEKS as i64;
        // Interleaved: every pass touches every week, so weeks are evicted and reopened.
        let mut seq = 0;
        for _ in 0..3 {
            for w in 0..weeks {
                let item = ScoredItem {
                    post_id: format!("t1_{seq}"),
                    author: None,
                    tickers: vec!["GME".into()],
                    sentiment: 0.1,
                    score: 1,
                    created_at: start + chrono::Duration::weeks(w),
                };
                spill.write(seq, &item).unwrap();
                seq += 1;
            }
        }
        spill.close_all().unwrap();
        assert_eq!(spill.weeks.len() as i64, weeks);
        let mut read = 0;
        for (&week, &count) in &spill.weeks {
            let items = read_week(&spill.path(week)).unwrap();
            assert_eq!((items.len() as u64, count), (3, 3));
            read += items.len();
        }
        assert_eq!(read as u64, seq);
    }

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    fn inputs() -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = [
            "submissions.ndjson",
            "comments.ndjson",
            "pushshift_mixed.ndjson.zst",
            "comments_pushshift.csv",
            "submissions_api_objects.csv",
            "kaggle_wsb_posts.csv",
        ]
        .iter()
        .map(|n| repo("tests/fixtures/reddit_archives").join(n))
        .collect();
        files.push(repo("data/sample/reddit/wsb_comments_2021-01-16_02-07.csv"));
        files.push(repo("data/sample/reddit/wsb_posts_2021-01-01_04.csv"));
        files
    }

    /// What `tft backtest --posts` computes: every item in memory, scored, duplicates
    /// dropped (first copy kept), aggregated day by day by the core.
    fn in_memory(files: &[PathBuf]) -> Vec<u8> {
        let mut items = Vec::new();
        for path in files {
            for item in ArchiveReader::open(path).unwrap() {
                let (tickers, sentiment) = score_text(&item);
                if !tickers.is_empty() {
                    items.push(ScoredItem {
                        post_id: item.fullname,
                        author: item.author,
                        tickers,
                        sentiment,
                        score: item.score,
                        created_at: item.created_utc,
                    });
                }
            }
        }
        items.sort_by(|a, b| a.post_id.cmp(&b.post_id));
        items.dedup_by(|a, b| a.post_id == b.post_id);
        items.sort_by_key(|i| i.created_at);
        let first = items.iter().map(|i| i.created_at).min().unwrap();
        let last = items.iter().map(|i| i.created_at).max().unwrap();
        let mut csv = SentimentCsvWriter::new(Vec::new()).unwrap();
        let mut window = SentimentWindow::containing(first);
        while window.start <= last {
            for row in aggregate(&items, &window) {
                csv.write(&row).unwrap();
            }
            window = SentimentWindow::containing(window.cutoff);
        }
        csv.finish().unwrap()
    }

    fn built(files: &[PathBuf], workers: usize) -> (Vec<u8>, BuildSummary) {
        let mut out = Vec::new();
        let mut calls = 0;
        let options = BuildOptions {
            workers,
            ..Default::default()
        };
        let summary = build(files, &mut out, &options, &mut |_| calls += 1).unwrap();
        assert!(calls > 0);
        (out, summary)
    }

    #[test]
    fn the_streamed_file_equals_the_in_memory_aggregate_whatever_the_file_order() {
        let files = inputs();
        let expected = in_memory(&files);
        let (out, summary) = built(&files, 2);
        assert!(summary.rows > 100, "{summary:?}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(expected.clone()).unwrap()
        );
        // Reversed files, files given twice (every item a duplicate), other thread counts.
        let mut twice: Vec<PathBuf> = files.iter().rev().cloned().collect();
        twice.extend(files.iter().cloned());
        for workers in [1, 3] {
            let (out, again) = built(&twice, workers);
            assert_eq!(out, expected, "{workers} workers");
            assert_eq!(again.items, 2 * summary.items);
            assert_eq!(again.with_tickers, 2 * summary.with_tickers);
            assert_eq!(again.duplicates, summary.with_tickers + summary.duplicates);
            assert_eq!(again.rows, summary.rows);
        }
    }

    #[test]
    fn a_bad_line_is_reported_and_the_rest_builds_but_a_missing_file_builds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let good = std::fs::read_to_string(repo("tests/fixtures/reddit_archives/comments.ndjson"))
            .unwrap();
        let broken = dir.path().join("broken.ndjson");
        let mut lines: Vec<&str> = good.lines().collect();
        lines.insert(1, "{not json");
        std::fs::write(&broken, lines.join("\n") + "\n{\"id\":\"cut").unwrap();
        let (out, summary) = built(std::slice::from_ref(&broken), 2);
        let clean = dir.path().join("clean.ndjson");
        std::fs::write(&clean, good).unwrap();
        let (clean_out, clean_summary) = built(std::slice::from_ref(&clean), 1);
        assert_eq!(out, clean_out);
        let stats = &summary.files[0].stats;
        let clean_stats = &clean_summary.files[0].stats;
        assert_eq!(
            stats.skipped_total(),
            clean_stats.skipped_total() + 2,
            "{stats:?}"
        );
        assert_eq!(stats.problems[0].line, 2);
        assert_eq!(
            stats.problems.last().unwrap().reason,
            crate::adapters::reddit_archive::SkipReason::Truncated
        );

        let mut sink = Vec::new();
        let err = build(
            &[clean, dir.path().join("missing.ndjson")],
            &mut sink,
            &BuildOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("missing.ndjson"), "{err:#}");
        assert!(sink.is_empty());
    }
}
