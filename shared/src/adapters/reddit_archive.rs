//! Historical Reddit dumps read into the same [`RedditItem`]s the API client returns, so
//! `tft import-reddit` stores them through the one scoring path and backtests get real
//! sentiment history.
//!
//! [`ArchiveReader`] streams a file of any size, one item at a time (never the whole file
//! in memory), and tells the format from the content, not the file name:
//! - **zstd** (magic bytes `28 B5 2F FD`) is decompressed on the fly, with the decoder's
//!   window limit raised to 2 GiB ([`ZSTD_WINDOW_LOG_MAX`]): the Pushshift archives are
//!   compressed with `zstd --long=31`, which a default decoder refuses (needs the
//!   `archives` feature);
//! - **pushshift_ndjson**: content starting with `{`, one Pushshift document per line,
//!   submissions (`title`, `selftext`) and comments (`body`, `link_id`, `parent_id`) mixed;
//!   `created_utc` as a number or a string;
//! - CSV otherwise, told apart by the header:
//!   - **api_objects** (DSI-Project-3): raw submission objects, ~100 API fields each;
//!   - **pushshift_posts** (WSB-Impact): `title,date,author,num_comments,text`, no id;
//!   - **pushshift_comments** (WSB-Impact): `subreddit,score,retrieved_on,permalink,
//!     is_submitter,id,created_utc,title,author`, where `title` holds the comment body;
//!   - **tagged_comments** (StockNLP): `Comment,Date,...` with a day-level `MM/DD/YYYY`
//!     date, no id and no author;
//!   - **kaggle_wsb_posts** (Kaggle "Reddit WallStreetBets Posts"): `title,score,id,url,
//!     comms_num,created,body,timestamp`; `created` is epoch seconds UTC, `timestamp` a
//!     local rendering of it (ignored); no author.
//!
//! The same rules in every format: `[deleted]`/`[removed]` authors are no author (the
//! daily aggregate then counts the item as its own author, never merges deleted authors
//! into one); an item whose only text is deleted or removed is skipped; a removed body
//! under a kept title is empty.
//!
//! Bad input is reported, not fatal: a line or row that does not parse is skipped and
//! reported as `file:line` ([`Problem`]), a truncated last line (a cut archive) likewise,
//! and the rest of the file still reads; [`ReadStats`] counts what was read and skipped,
//! by reason. [`read_archive`] is the strict whole-file read (the first problem is an
//! error) for the callers that need every item at once.
//!
//! Defects handled, not hidden: rows without a Reddit id get `x_` + a stable hash of
//! their text and time, so exact duplicate rows collapse into one; a day-level date
//! becomes 23:59:59 New York of that day, so the item never reaches the cutoff of that
//! day (no look-ahead); UTF-8 text that was decoded as Windows-1252 somewhere upstream
//! ("Iâ€™m") is repaired when the repair decodes cleanly (CSV layouts).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::reddit::{ItemKind, RedditItem};
use crate::core::calendar::new_york_instant;

/// The zstd frame magic number (little-endian 0xFD2FB528).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The largest decoder window accepted, as a power of two: 2 GiB, what `--long=31` declares.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 31;
/// The longest NDJSON line kept: Pushshift documents are a few KB, and a longer line is
/// skipped as malformed, so a corrupt file cannot exhaust memory.
const MAX_LINE_BYTES: usize = 4 << 20;
/// Problems kept with their line; the rest are only counted.
const MAX_PROBLEMS: usize = 100;
/// Read buffer for files and decompressed streams.
const BUFFER_BYTES: usize = 1 << 16;

/// A dump that cannot be read, with the file and line.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: unrecognised header {header:?}: expected one of the formats in reddit_archive.rs"
    )]
    UnknownFormat { path: String, header: Vec<String> },
    #[error("{path}:{line}: {reason}")]
    BadRow {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("{path}: zstd-compressed, and this build has no `archives` feature to read it")]
    ZstdUnsupported { path: String },
}

/// The dump formats [`ArchiveReader`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveFormat {
    ApiObjects,
    PushshiftPosts,
    PushshiftComments,
    TaggedComments,
    KaggleWsbPosts,
    PushshiftNdjson,
}

impl ArchiveFormat {
    fn detect(header: &csv::StringRecord) -> Option<Self> {
        let has = |name: &str| header.iter().any(|h| h == name);
        if has("selftext") && has("id") && has("created_utc") {
            Some(Self::ApiObjects)
        } else if has("permalink") && has("id") && has("created_utc") && has("title") {
            Some(Self::PushshiftComments)
        } else if has("title") && has("date") && has("text") && has("author") {
            Some(Self::PushshiftPosts)
        } else if has("Comment") && has("Date") {
            Some(Self::TaggedComments)
        } else if has("title") && has("id") && has("created") && has("comms_num") {
            Some(Self::KaggleWsbPosts)
        } else {
            None
        }
    }
}

/// How the file's bytes were stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Zstd,
}

/// Why a record gave no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Its text is empty, `[deleted]` or `[removed]`.
    NoText,
    /// No Reddit id where the format has one.
    NoId,
    /// No usable creation time.
    NoTime,
    /// A line or row that does not parse (reported with its line).
    Malformed,
    /// The cut end of a file: a last line without its newline that does not parse, or a
    /// compressed stream or file that ends mid-way (reported with its line).
    Truncated,
    /// From a subreddit outside the ones asked for (the monthly Pushshift dumps hold all
    /// of Reddit).
    OtherSubreddit,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoText => "no_text",
            Self::NoId => "no_id",
            Self::NoTime => "no_time",
            Self::Malformed => "malformed",
            Self::Truncated => "truncated",
            Self::OtherSubreddit => "other_subreddit",
        }
    }
}

/// A record skipped for a reason worth a look: `line` is 1-based in the (decompressed)
/// file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    pub line: u64,
    pub reason: SkipReason,
    pub message: String,
}

/// What a read has seen so far.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReadStats {
    /// Records read: data rows or non-blank lines.
    pub records: u64,
    /// Items yielded.
    pub items: u64,
    /// Items whose text was repaired from Windows-1252 mojibake.
    pub repaired: u64,
    /// Records skipped, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The first problems (malformed or truncated records), in file order.
    pub problems: Vec<Problem>,
}

impl ReadStats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    fn problem(&mut self, name: &str, line: u64, reason: SkipReason, message: String) {
        self.skip(reason);
        tracing::warn!(file = name, line, ?reason, "{message}");
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                line,
                reason,
                message,
            });
        }
    }
}

/// What a file held (the strict whole-file read).
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub format: ArchiveFormat,
    pub items: Vec<RedditItem>,
    /// Rows skipped because they carry no text (deleted/removed), no id or no usable time.
    pub skipped_rows: usize,
    /// Rows whose text was repaired from Windows-1252 mojibake.
    pub repaired_rows: usize,
}

/// Reads one dump file whole; the first malformed or truncated record is an error.
pub fn read_archive(path: &Path) -> Result<Archive, ArchiveError> {
    collect_strict(ArchiveReader::open(path)?)
}

/// Parses a dump from `reader` whole, strictly; `name` is used in errors.
pub fn parse_archive(reader: impl Read + Send, name: &str) -> Result<Archive, ArchiveError> {
    collect_strict(ArchiveReader::from_reader(
        BufReader::with_capacity(BUFFER_BYTES, reader),
        name,
    )?)
}

fn collect_strict(mut reader: ArchiveReader<'_>) -> Result<Archive, ArchiveError> {
    let items: Vec<RedditItem> = reader.by_ref().collect();
    let stats = reader.stats();
    if let Some(problem) = stats.problems.first() {
        return Err(ArchiveError::BadRow {
            path: reader.name().to_string(),
            line: problem.line,
            reason: problem.message.clone(),
        });
    }
    Ok(Archive {
        format: reader.format(),
        items,
        skipped_rows: stats.skipped_total() as usize,
        repaired_rows: stats.repaired as usize,
    })
}

type Input<'a> = Box<dyn BufRead + Send + 'a>;

/// A streaming reader of one dump: yields its items one at a time; problems are counted
/// and kept in [`ArchiveReader::stats`], never fatal once the file is open.
pub struct ArchiveReader<'a> {
    name: String,
    format: ArchiveFormat,
    compression: Compression,
    source: Source<'a>,
    stats: ReadStats,
    finished: bool,
    /// Lower-case subreddit names to keep; `None`: every item.
    subreddits: Option<Vec<String>>,
}

enum Source<'a> {
    Csv {
        csv: Box<csv::Reader<Input<'a>>>,
        header: csv::StringRecord,
        record: csv::StringRecord,
    },
    Ndjson {
        input: Input<'a>,
        line: u64,
        buf: Vec<u8>,
    },
}

impl std::fmt::Debug for ArchiveReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("compression", &self.compression)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn io_error(name: &str) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: name.to_string(),
        source,
    }
}

#[cfg(feature = "archives")]
fn zstd_input<'a>(input: Input<'a>, name: &str) -> Result<Input<'a>, ArchiveError> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(io_error(name))?;
    decoder
        .window_log_max(ZSTD_WINDOW_LOG_MAX)
        .map_err(io_error(name))?;
    Ok(Box::new(BufReader::with_capacity(BUFFER_BYTES, decoder)))
}

#[cfg(not(feature = "archives"))]
fn zstd_input<'a>(_input: Input<'a>, name: &str) -> Result<Input<'a>, ArchiveError> {
    Err(ArchiveError::ZstdUnsupported {
        path: name.to_string(),
    })
}

impl ArchiveReader<'static> {
    /// Opens a dump file and detects its compression and format from its first bytes.
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(io_error(&name))?;
        Self::from_reader(BufReader::with_capacity(BUFFER_BYTES, file), &name)
    }
}

impl<'a> ArchiveReader<'a> {
    /// A reader over any byte stream; `name` is used in problems and errors.
    pub fn from_reader(reader: impl BufRead + Send + 'a, name: &str) -> Result<Self, ArchiveError> {
        let mut input: Input<'a> = Box::new(reader);
        let head = input.fill_buf().map_err(io_error(name))?;
        let compression = if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        };
        if compression == Compression::Zstd {
            input = zstd_input(input, name)?;
        }
        let head = input.fill_buf().map_err(io_error(name))?;
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let (format, source) = if first == Some(b'{') {
            (
                ArchiveFormat::PushshiftNdjson,
                Source::Ndjson {
                    input,
                    line: 0,
                    buf: Vec::new(),
                },
            )
        } else {
            let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(input);
            let header = csv
                .headers()
                .map_err(|e| ArchiveError::BadRow {
                    path: name.to_string(),
                    line: 1,
                    reason: e.to_string(),
                })?
                .clone();
            let format =
                ArchiveFormat::detect(&header).ok_or_else(|| ArchiveError::UnknownFormat {
                    path: name.to_string(),
                    header: header.iter().map(String::from).collect(),
                })?;
            (
                format,
                Source::Csv {
                    csv: Box::new(csv),
                    header,
                    record: csv::StringRecord::new(),
                },
            )
        };
        Ok(Self {
            name: name.to_string(),
            format,
            compression,
            source,
            stats: ReadStats::default(),
            finished: false,
            subreddits: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> ArchiveFormat {
        self.format
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// What has been read so far (final once the iterator has returned `None`).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }
}

impl Iterator for ArchiveReader<'_> {
    type Item = RedditItem;

    fn next(&mut self) -> Option<RedditItem> {
        loop {
            let item = self.next_any()?;
            match &self.subreddits {
                Some(keep) if !keep.iter().any(|s| s.eq_ignore_ascii_case(&item.subreddit)) => {
                    self.stats.items -= 1;
                    self.stats.skip(SkipReason::OtherSubreddit);
                }
                _ => return Some(item),
            }
        }
    }
}

impl ArchiveReader<'_> {
    /// Keeps only the items of these subreddits (any case, with or without `r/`); the
    /// others are counted as skipped (`other_subreddit`).
    pub fn only_subreddits(mut self, subreddits: &[String]) -> Self {
        self.subreddits = Some(
            subreddits
                .iter()
                .map(|s| s.trim().trim_start_matches("r/").to_ascii_lowercase())
                .collect(),
        );
        self
    }

    fn next_any(&mut self) -> Option<RedditItem> {
        if self.finished {
            return None;
        }
        let item = match &mut self.source {
            Source::Csv {
                csv,
                header,
                record,
            } => next_csv(
                csv,
                header,
                record,
                self.format,
                &self.name,
                &mut self.stats,
            ),
            Source::Ndjson { input, line, buf } => {
                next_ndjson(input, line, buf, &self.name, &mut self.stats)
            }
        };
        match &item {
            Some(_) => self.stats.items += 1,
            None => self.finished = true,
        }
        item
    }
}

/// What one record gives: a transient return value, moved straight into the iterator's
/// result (boxing the item would add an allocation per item for nothing).
#[allow(clippy::large_enum_variant)]
enum Row {
    Item(RedditItem),
    Skip(SkipReason),
    Bad(String),
}

fn next_csv(
    csv: &mut csv::Reader<Input<'_>>,
    header: &csv::StringRecord,
    record: &mut csv::StringRecord,
    format: ArchiveFormat,
    name: &str,
    stats: &mut ReadStats,
) -> Option<RedditItem> {
    loop {
        match csv.read_record(record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    stats.problem(
                        name,
                        line,
                        SkipReason::Truncated,
                        format!("read error, the rest of the file is skipped: {e}"),
                    );
                    return None;
                }
                stats.records += 1;
                stats.problem(name, line, SkipReason::Malformed, e.to_string());
                continue;
            }
        }
        stats.records += 1;
        let line = record.position().map_or(0, |p| p.line());
        let mut repaired = false;
        match csv_row(format, header, record, &mut repaired) {
            Row::Item(item) => {
                stats.repaired += u64::from(repaired);
                return Some(item);
            }
            Row::Skip(reason) => stats.skip(reason),
            Row::Bad(message) => stats.problem(name, line, SkipReason::Malformed, message),
        }
    }
}

/// Reads through the next `\n` (or the end) into `buf`, keeping at most `cap` bytes:
/// returns the bytes consumed, whether the line was longer than `cap` (then `buf` is
/// empty) and whether it ended with a newline.
fn read_line_capped(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, bool, bool)> {
    let mut consumed = 0;
    let mut overflow = false;
    loop {
        let (n, newline) = {
            let available = match input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((consumed, overflow, false));
            }
            let (chunk, newline) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            if !overflow {
                if buf.len() + chunk.len() > cap {
                    overflow = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            (chunk.len(), newline)
        };
        input.consume(n);
        consumed += n;
        if newline {
            return Ok((consumed, overflow, true));
        }
    }
}

fn next_ndjson(
    input: &mut Input<'_>,
    line: &mut u64,
    buf: &mut Vec<u8>,
    name: &str,
    stats: &mut ReadStats,
) -> Option<RedditItem> {
    loop {
        buf.clear();
        let (consumed, overflow, newline) = match read_line_capped(input, buf, MAX_LINE_BYTES) {
            Ok(read) => read,
            Err(e) => {
                // A cut .zst ends mid-frame: what came before is kept.
                *line += 1;
                stats.records += 1;
                stats.problem(
                    name,
                    *line,
                    SkipReason::Truncated,
                    format!("read error, the rest of the file is skipped: {e}"),
                );
                return None;
            }
        };
        if consumed == 0 {
            return None;
        }
        *line += 1;
        if overflow {
            stats.records += 1;
            stats.problem(
                name,
                *line,
                SkipReason::Malformed,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            );
            continue;
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        stats.records += 1;
        let row = match serde_json::from_slice::<PushshiftDoc>(text) {
            Ok(doc) => pushshift_row(doc),
            Err(e) => Row::Bad(format!("not a Pushshift JSON document: {e}")),
        };
        match row {
            Row::Item(item) => return Some(item),
            Row::Skip(reason) => stats.skip(reason),
            Row::Bad(message) if !newline => stats.problem(
                name,
                *line,
                SkipReason::Truncated,
                format!("truncated last line: {message}"),
            ),
            Row::Bad(message) => stats.problem(name, *line, SkipReason::Malformed, message),
        }
    }
}

/// The fields of a Pushshift submission or comment that are used; the rest are ignored.
#[derive(Debug, Deserialize)]
struct PushshiftDoc {
    id: Option<String>,
    author: Option<String>,
    created_utc: Option<Value>,
    subreddit: Option<String>,
    title: Option<String>,
    selftext: Option<String>,
    body: Option<String>,
    score: Option<Value>,
    num_comments: Option<Value>,
    upvote_ratio: Option<f64>,
    url: Option<String>,
    permalink: Option<String>,
    link_id: Option<String>,
    parent_id: Option<String>,
    stickied: Option<bool>,
    link_flair_text: Option<String>,
}

/// A number that Pushshift stores as a JSON number or a string.
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn pushshift_row(doc: PushshiftDoc) -> Row {
    let Some(id) = doc
        .id
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
    else {
        return Row::Skip(SkipReason::NoId);
    };
    let Some(created_utc) =
        number(doc.created_utc.as_ref()).and_then(|s| DateTime::from_timestamp(s as i64, 0))
    else {
        return Row::Skip(SkipReason::NoTime);
    };
    let author = doc.author.as_deref().and_then(author);
    let subreddit = doc.subreddit.unwrap_or_default();
    let score = number(doc.score.as_ref()).map_or(0, |s| s as i64);
    let permalink = doc.permalink.filter(|p| !p.is_empty());
    match (doc.title, doc.body) {
        (Some(title), _) => {
            if is_removed(&title) {
                return Row::Skip(SkipReason::NoText);
            }
            Row::Item(RedditItem {
                fullname: format!("t3_{id}"),
                id,
                kind: ItemKind::Post,
                subreddit,
                title: Some(title),
                body: doc.selftext.filter(|b| !is_removed(b)).unwrap_or_default(),
                author,
                score,
                num_comments: number(doc.num_comments.as_ref()).map(|n| n as i64),
                upvote_ratio: doc.upvote_ratio,
                url: doc.url.filter(|u| !u.is_empty()),
                permalink,
                parent_fullname: None,
                link_fullname: None,
                created_utc,
                is_stickied: doc.stickied.unwrap_or(false),
                link_flair_text: doc.link_flair_text.filter(|f| !f.is_empty()),
            })
        }
        (None, Some(body)) => {
            if is_removed(&body) {
                return Row::Skip(SkipReason::NoText);
            }
            Row::Item(RedditItem {
                fullname: format!("t1_{id}"),
                id,
                kind: ItemKind::Comment,
                subreddit,
                title: None,
                body,
                author,
                score,
                num_comments: None,
                upvote_ratio: None,
                url: None,
                permalink,
                parent_fullname: doc.parent_id.filter(|p| !p.is_empty()),
                link_fullname: doc.link_id.filter(|l| !l.is_empty()),
                created_utc,
                is_stickied: doc.stickied.unwrap_or(false),
                link_flair_text: None,
            })
        }
        (None, None) => Row::Bad("neither a submission (title) nor a comment (body)".into()),
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and Rust version.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn synthetic_id(parts: &[&str]) -> String {
    format!("{:016x}", stable_hash(parts))
}

/// The Windows-1252 byte a character stands for, when text was mis-decoded.
fn cp1252_byte(c: char) -> Option<u8> {
    const HIGH: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('‘', 0x91),
        ('’', 0x92),
        ('“', 0x93),
        ('”', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    let code = c as u32;
    if code < 0x100 {
        return Some(code as u8); // Latin-1 range (and the five bytes cp1252 leaves undefined)
    }
    HIGH.iter().find(|(ch, _)| *ch == c).map(|(_, b)| *b)
}

/// Undoes UTF-8 text decoded as Windows-1252 ("Iâ€™m" -> "I’m"), only when the whole
/// text maps back to bytes that are valid UTF-8; otherwise returns `None`.
pub fn repair_mojibake(text: &str) -> Option<String> {
    if !(text.contains('â') || text.contains('Ã') || text.contains('ð')) {
        return None;
    }
    let bytes: Option<Vec<u8>> = text.chars().map(cp1252_byte).collect();
    let repaired = String::from_utf8(bytes?).ok()?;
    (repaired != text).then_some(repaired)
}

fn epoch(raw: &str) -> Option<DateTime<Utc>> {
    let secs: f64 = raw.trim().parse().ok()?;
    DateTime::from_timestamp(secs as i64, 0)
}

fn end_of_new_york_day(day: NaiveDate) -> DateTime<Utc> {
    new_york_instant(
        day,
        NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN),
    )
}

fn is_removed(text: &str) -> bool {
    matches!(text.trim(), "" | "[deleted]" | "[removed]")
}

fn author(raw: &str) -> Option<String> {
    let a = raw.trim();
    (!matches!(a, "" | "[deleted]" | "[removed]")).then(|| a.chars().take(50).collect())
}

/// One CSV record's cells by column name, and its text repaired (noting when it was).
struct Cells<'a> {
    header: &'a csv::StringRecord,
    record: &'a csv::StringRecord,
    repaired: std::cell::Cell<bool>,
}

impl Cells<'_> {
    fn get(&self, name: &str) -> &str {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
    }

    fn text(&self, raw: &str) -> String {
        match repair_mojibake(raw) {
            Some(fixed) => {
                self.repaired.set(true);
                fixed
            }
            None => raw.to_string(),
        }
    }
}

/// One CSV row of `format` as an item; `repaired` is set when its text was repaired.
fn csv_row(
    format: ArchiveFormat,
    header: &csv::StringRecord,
    record: &csv::StringRecord,
    repaired: &mut bool,
) -> Row {
    let c = Cells {
        header,
        record,
        repaired: std::cell::Cell::new(false),
    };
    let row = match format {
        ArchiveFormat::ApiObjects => api_objects_row(&c),
        ArchiveFormat::PushshiftPosts => pushshift_posts_row(&c),
        ArchiveFormat::PushshiftComments => pushshift_comments_row(&c),
        ArchiveFormat::TaggedComments => tagged_comments_row(&c),
        ArchiveFormat::KaggleWsbPosts => kaggle_wsb_posts_row(&c),
        ArchiveFormat::PushshiftNdjson => Row::Bad("not a CSV format".into()),
    };
    *repaired |= c.repaired.get();
    row
}

/// The API-objects layout (`id,title,selftext,created_utc,...`): posts.
fn api_objects_row(c: &Cells<'_>) -> Row {
    let id = c.get("id").trim().to_string();
    let title = c.text(c.get("title"));
    let body = c.text(c.get("selftext"));
    let Some(created_utc) = epoch(c.get("created_utc")) else {
        return Row::Skip(SkipReason::NoTime);
    };
    if id.is_empty() {
        return Row::Skip(SkipReason::NoId);
    }
    Row::Item(RedditItem {
        fullname: format!("t3_{id}"),
        id,
        kind: ItemKind::Post,
        subreddit: c.get("subreddit").to_string(),
        title: Some(title),
        body,
        author: author(c.get("author")),
        score: c.get("score").trim().parse().unwrap_or(0),
        num_comments: c.get("num_comments").trim().parse().ok(),
        upvote_ratio: c.get("upvote_ratio").trim().parse().ok(),
        url: Some(c.get("url").to_string()).filter(|u| !u.is_empty()),
        permalink: Some(c.get("permalink").to_string()).filter(|u| !u.is_empty()),
        parent_fullname: None,
        link_fullname: None,
        created_utc,
        is_stickied: c.get("stickied").eq_ignore_ascii_case("true"),
        link_flair_text: Some(c.get("link_flair_text").to_string()).filter(|f| !f.is_empty()),
    })
}

/// Pushshift-style post exports (`title,text,author,date,...`, no id): a synthetic id.
fn pushshift_posts_row(c: &Cells<'_>) -> Row {
    let title = c.text(c.get("title"));
    let body = c.text(c.get("text"));
    let Some(created_utc) = epoch(c.get("date")) else {
        return Row::Skip(SkipReason::NoTime);
    };
    if is_removed(&title) {
        return Row::Skip(SkipReason::NoText);
    }
    let id = synthetic_id(&[&title, &body, c.get("author"), c.get("date")]);
    Row::Item(RedditItem {
        fullname: format!("x_{id}"),
        id,
        kind: ItemKind::Post,
        subreddit: "wallstreetbets".into(),
        title: Some(title),
        body: if is_removed(&body) {
            String::new()
        } else {
            body
        },
        author: author(c.get("author")),
        score: 0,
        num_comments: c.get("num_comments").trim().parse().ok(),
        upvote_ratio: None,
        url: None,
        permalink: None,
        parent_fullname: None,
        link_fullname: None,
        created_utc,
        is_stickied: false,
        link_flair_text: None,
    })
}

/// Pushshift-style comment exports: the post from the permalink.
fn pushshift_comments_row(c: &Cells<'_>) -> Row {
    let id = c.get("id").trim().to_string();
    let body = c.text(c.get("title"));
    let permalink = c.get("permalink").to_string();
    // /r/<sub>/comments/<post id>/<slug>/<comment id>/
    let post = permalink
        .split('/')
        .nth(4)
        .filter(|p| !p.is_empty())
        .map(|p| format!("t3_{p}"));
    if id.is_empty() {
        return Row::Skip(SkipReason::NoId);
    }
    if is_removed(&body) {
        return Row::Skip(SkipReason::NoText);
    }
    let Some(created_utc) = epoch(c.get("created_utc")) else {
        return Row::Skip(SkipReason::NoTime);
    };
    Row::Item(RedditItem {
        fullname: format!("t1_{id}"),
        id,
        kind: ItemKind::Comment,
        subreddit: c.get("subreddit").to_string(),
        title: None,
        body,
        author: author(c.get("author")),
        score: c.get("score").trim().parse().unwrap_or(0),
        num_comments: None,
        upvote_ratio: None,
        url: None,
        permalink: Some(permalink).filter(|p| !p.is_empty()),
        parent_fullname: None,
        link_fullname: post,
        created_utc,
        is_stickied: false,
        link_flair_text: None,
    })
}

/// Tagged comments (`Comment,Date,Subreddit`): a day, no time; the end of that New York day.
fn tagged_comments_row(c: &Cells<'_>) -> Row {
    let body = c.text(c.get("Comment"));
    let day = match NaiveDate::parse_from_str(c.get("Date").trim(), "%m/%d/%Y") {
        Ok(day) => day,
        Err(e) => return Row::Bad(format!("Date {:?}: {e}", c.get("Date"))),
    };
    if is_removed(&body) {
        return Row::Skip(SkipReason::NoText);
    }
    let id = synthetic_id(&[&body, c.get("Date")]);
    Row::Item(RedditItem {
        fullname: format!("x_{id}"),
        id,
        kind: ItemKind::Comment,
        subreddit: Some(c.get("Subreddit").to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "wallstreetbets".into()),
        title: None,
        body,
        author: None,
        score: 0,
        num_comments: None,
        upvote_ratio: None,
        url: None,
        permalink: None,
        parent_fullname: None,
        link_fullname: None,
        created_utc: end_of_new_york_day(day),
        is_stickied: false,
        link_flair_text: None,
    })
}

/// The Kaggle "Reddit WallStreetBets Posts" CSV: `created` is epoch seconds UTC; `timestamp` is a local rendering of it.
fn kaggle_wsb_posts_row(c: &Cells<'_>) -> Row {
    let id = c.get("id").trim().to_string();
    let title = c.text(c.get("title"));
    let body = c.text(c.get("body"));
    if id.is_empty() {
        return Row::Skip(SkipReason::NoId);
    }
    // `created` is epoch seconds UTC; `timestamp` is a local rendering of it.
    let Some(created_utc) = epoch(c.get("created")) else {
        return Row::Skip(SkipReason::NoTime);
    };
    if is_removed(&title) {
        return Row::Skip(SkipReason::NoText);
    }
    Row::Item(RedditItem {
        fullname: format!("t3_{id}"),
        id,
        kind: ItemKind::Post,
        subreddit: "wallstreetbets".into(),
        title: Some(title),
        body: if is_removed(&body) {
            String::new()
        } else {
            body
        },
        author: None,
        score: c.get("score").trim().parse().unwrap_or(0),
        num_comments: c.get("comms_num").trim().parse().ok(),
        upvote_ratio: None,
        url: Some(c.get("url").to_string()).filter(|u| !u.is_empty()),
        permalink: None,
        parent_fullname: None,
        link_fullname: None,
        created_utc,
        is_stickied: false,
        link_flair_text: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mojibake_is_repaired_only_when_it_decodes_cleanly() {
        assert_eq!(
            repair_mojibake("Iâ€™m buying").as_deref(),
            Some("I’m buying")
        );
        assert_eq!(repair_mojibake("ðŸš€ðŸš€").as_deref(), Some("🚀🚀"));
        assert_eq!(repair_mojibake("I’m fine"), None);
        assert_eq!(repair_mojibake("Ãxyz 🚀"), None, "mixed text is left alone");
    }

    #[test]
    fn tagged_comments_get_a_stable_id_and_the_end_of_their_day() {
        let csv = ",Unnamed: 0.1,Comment,Date,Subreddit,Tags\n\
                   0,0.0,$OPTT Sea you on the moon,12/01/2021,wallstreetbets,$OPTT\n\
                   1,1.0,$OPTT Sea you on the moon,12/01/2021,wallstreetbets,$OPTT\n";
        let a = parse_archive(csv.as_bytes(), "t.csv").unwrap();
        assert_eq!(a.format, ArchiveFormat::TaggedComments);
        assert_eq!(a.items.len(), 2);
        assert_eq!(
            a.items[0].fullname, a.items[1].fullname,
            "duplicates share an id"
        );
        assert!(a.items[0].fullname.starts_with("x_"));
        assert_eq!(
            a.items[0].created_utc.to_rfc3339(),
            "2021-12-02T04:59:59+00:00"
        );
    }

    #[test]
    fn pushshift_comments_keep_their_reddit_id_and_post() {
        let csv = "subreddit,score,retrieved_on,permalink,is_submitter,id,created_utc,title,author\n\
                   wallstreetbets,2,1610896581,/r/wallstreetbets/comments/kyju7h/msg/gjguunm/,FALSE,gjguunm,1610811051,GME to the moon,ape\n\
                   wallstreetbets,1,1610896581,/r/wallstreetbets/comments/kyju7h/msg/gjguunn/,FALSE,gjguunn,1610811052,[removed],[deleted]\n";
        let a = parse_archive(csv.as_bytes(), "c.csv").unwrap();
        assert_eq!(a.format, ArchiveFormat::PushshiftComments);
        assert_eq!((a.items.len(), a.skipped_rows), (1, 1));
        let c = &a.items[0];
        assert_eq!(
            (c.fullname.as_str(), c.link_fullname.as_deref()),
            ("t1_gjguunm", Some("t3_kyju7h"))
        );
        assert_eq!(
            (c.body.as_str(), c.author.as_deref(), c.score),
            ("GME to the moon", Some("ape"), 2)
        );
    }

    #[test]
    fn an_unknown_header_and_a_bad_date_are_clear_errors() {
        let err = parse_archive("a,b\n1,2\n".as_bytes(), "x.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.csv: unrecognised header"), "{err}");
        let err = parse_archive("Comment,Date\nhi,2021-13-45\n".as_bytes(), "y.csv")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("y.csv:2:"), "{err}");
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/reddit_archives")
            .join(name)
    }

    fn read_all(name: &str) -> (Vec<RedditItem>, ArchiveReader<'static>) {
        let mut reader = ArchiveReader::open(&fixture(name)).unwrap();
        let items: Vec<RedditItem> = reader.by_ref().collect();
        (items, reader)
    }

    /// What the daily aggregate reads of an item.
    fn key(i: &RedditItem) -> (String, Option<String>, i64, Option<String>, String, i64) {
        (
            i.fullname.clone(),
            i.author.clone(),
            i.created_utc.timestamp(),
            i.title.clone(),
            i.body.clone(),
            i.score,
        )
    }

    #[test]
    fn pushshift_submissions_take_number_and_string_times_and_drop_deleted_authors() {
        let (items, reader) = read_all("submissions.ndjson");
        assert_eq!(
            (reader.format(), reader.compression()),
            (ArchiveFormat::PushshiftNdjson, Compression::None)
        );
        let ids: Vec<&str> = items.iter().map(|i| i.fullname.as_str()).collect();
        assert_eq!(ids, ["t3_l5x8a1", "t3_l5x8a2", "t3_l5x8a3", "t3_l5x8a5"]);
        assert_eq!(items[0].created_utc.timestamp(), 1_611_673_200);
        assert_eq!(items[1].created_utc.timestamp(), 1_611_699_000, "a string");
        assert_eq!(items[2].created_utc.timestamp(), 1_611_777_600, "a float");
        assert_eq!(items[1].author, None, "[deleted] is no author");
        assert_eq!(items[0].author.as_deref(), Some("ape_one"));
        assert_eq!(
            (items[0].kind, items[0].score, items[0].num_comments),
            (ItemKind::Post, 120, Some(40))
        );
        assert_eq!(items[2].subreddit, "stocks");
        let stats = reader.stats();
        assert_eq!((stats.records, stats.items), (5, 4));
        assert_eq!(stats.skipped.get(&SkipReason::NoText), Some(&1));
        assert!(stats.problems.is_empty());
    }

    #[test]
    fn a_malformed_line_and_a_cut_last_line_are_reported_and_skipped() {
        let (items, reader) = read_all("comments.ndjson");
        let ids: Vec<&str> = items.iter().map(|i| i.fullname.as_str()).collect();
        assert_eq!(
            ids,
            ["t1_gk1", "t1_gk2", "t1_gk3", "t1_gk5"],
            "the rest still reads"
        );
        let c = &items[2];
        assert_eq!(
            (
                c.kind,
                c.author.as_deref(),
                c.link_fullname.as_deref(),
                c.parent_fullname.as_deref()
            ),
            (ItemKind::Comment, None, Some("t3_l5x8a1"), Some("t1_gk1"))
        );
        assert_eq!(c.score, -4);
        let stats = reader.stats();
        let problems: Vec<(u64, SkipReason)> =
            stats.problems.iter().map(|p| (p.line, p.reason)).collect();
        assert_eq!(
            problems,
            [(4, SkipReason::Malformed), (8, SkipReason::Truncated)]
        );
        assert!(stats.problems[1].message.starts_with("truncated last line"));
        assert_eq!(stats.records, 7, "the blank line is not a record");
        assert_eq!(stats.skipped_total(), 3);
        assert_eq!(
            stats.skipped.get(&SkipReason::NoText),
            Some(&1),
            "[removed]"
        );

        let err = read_archive(&fixture("comments.ndjson"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("comments.ndjson:4: not a Pushshift JSON document"),
            "{err}"
        );
    }

    #[test]
    fn items_of_other_subreddits_are_counted_and_skipped_when_asked() {
        let (all, _) = read_all("submissions.ndjson");
        let mut reader = ArchiveReader::open(&fixture("submissions.ndjson"))
            .unwrap()
            .only_subreddits(&["r/WallStreetBets".to_string()]);
        let kept: Vec<RedditItem> = reader.by_ref().collect();
        let others = all
            .iter()
            .filter(|i| i.subreddit != "wallstreetbets")
            .count();
        assert!(others > 0 && !kept.is_empty());
        assert_eq!(kept.len() + others, all.len());
        assert!(kept.iter().all(|i| i.subreddit == "wallstreetbets"));
        assert_eq!(reader.stats().items, kept.len() as u64);
        assert_eq!(
            reader.stats().skipped.get(&SkipReason::OtherSubreddit),
            Some(&(others as u64))
        );
    }

    #[test]
    fn ndjson_and_the_csv_layouts_give_the_same_items() {
        for (ndjson, csv) in [
            ("submissions.ndjson", "submissions_api_objects.csv"),
            ("comments.ndjson", "comments_pushshift.csv"),
        ] {
            let (a, _) = read_all(ndjson);
            let (b, reader) = read_all(csv);
            assert_ne!(reader.format(), ArchiveFormat::PushshiftNdjson);
            assert_eq!(
                a.iter().map(key).collect::<Vec<_>>(),
                b.iter().map(key).collect::<Vec<_>>(),
                "{ndjson} vs {csv}"
            );
        }
    }

    #[test]
    fn the_kaggle_wsb_posts_csv_reads_created_as_utc_and_ignores_timestamp() {
        let a = read_archive(&fixture("kaggle_wsb_posts.csv")).unwrap();
        assert_eq!(a.format, ArchiveFormat::KaggleWsbPosts);
        assert_eq!((a.items.len(), a.skipped_rows), (2, 1));
        let p = &a.items[1];
        assert_eq!(p.fullname, "t3_l6uibd");
        assert_eq!(p.created_utc.to_rfc3339(), "2021-01-28T19:32:10+00:00");
        assert_eq!(p.body, "GME shorts are trapped.\nHold the line.");
        assert_eq!(
            (p.score, p.num_comments, p.author.as_deref()),
            (110, Some(23), None)
        );
        assert_eq!(a.items[0].body, "");
    }

    #[cfg(feature = "archives")]
    #[test]
    fn a_long_window_zst_from_a_pipe_streams_where_a_default_decoder_refuses() {
        let path = fixture("pushshift_mixed.ndjson.zst");
        let mut default =
            zstd::stream::read::Decoder::new(std::fs::File::open(&path).unwrap()).unwrap();
        let refused = std::io::copy(&mut default, &mut std::io::sink()).unwrap_err();
        assert!(
            refused.to_string().contains("requires too much memory"),
            "{refused}"
        );

        let (items, reader) = read_all("pushshift_mixed.ndjson.zst");
        assert_eq!(
            (reader.format(), reader.compression()),
            (ArchiveFormat::PushshiftNdjson, Compression::Zstd)
        );
        let (mut plain, _) = read_all("submissions.ndjson");
        plain.extend(read_all("comments.ndjson").0);
        assert_eq!(items, plain);
        let problems: Vec<(u64, SkipReason)> = reader
            .stats()
            .problems
            .iter()
            .map(|p| (p.line, p.reason))
            .collect();
        assert_eq!(
            problems,
            [(9, SkipReason::Malformed), (13, SkipReason::Truncated)]
        );
    }

    #[cfg(feature = "archives")]
    #[test]
    fn a_cut_zst_keeps_what_came_before_and_reports_the_cut() {
        // Enough lines for several zstd blocks, so the cut falls after whole blocks.
        let mut ndjson = String::new();
        for i in 0..4000 {
            ndjson.push_str(&format!(
                "{{\"id\":\"c{i}\",\"author\":\"a{i}\",\"created_utc\":{},\"body\":\"GME {i} {}\"}}\n",
                1_611_673_200 + i,
                "x".repeat(i % 97)
            ));
        }
        let zst = zstd::stream::encode_all(ndjson.as_bytes(), 1).unwrap();
        let cut = &zst[..zst.len() / 2];
        let mut reader = ArchiveReader::from_reader(cut, "cut.zst").unwrap();
        let items: Vec<RedditItem> = reader.by_ref().collect();
        let stats = reader.stats();
        assert!(items.len() > 100 && items.len() < 4000, "{}", items.len());
        assert_eq!(
            items.last().unwrap().fullname,
            format!("t1_c{}", items.len() - 1)
        );
        assert_eq!(
            stats.skipped.get(&SkipReason::Truncated),
            Some(&1),
            "{stats:?}"
        );
        assert!(stats
            .problems
            .last()
            .unwrap()
            .message
            .contains("read error"));
    }

    #[test]
    fn content_not_the_name_tells_the_format() {
        let doc = r#"  {"id":"a1","author":"x","created_utc":"1611673200","body":"GME up"}"#;
        let mut r = ArchiveReader::from_reader(doc.as_bytes(), "posts.csv").unwrap();
        assert_eq!(r.format(), ArchiveFormat::PushshiftNdjson);
        let item = r.next().unwrap();
        assert_eq!(
            (item.fullname.as_str(), item.body.as_str()),
            ("t1_a1", "GME up")
        );
        assert!(
            r.next().is_none(),
            "a complete last line without a newline is kept"
        );
        assert!(r.stats().problems.is_empty());
    }

    #[test]
    fn a_bad_csv_row_is_skipped_when_streaming() {
        let csv = "Comment,Date\nhi GME,2021-13-45\nok TSLA,01/28/2021\n";
        let mut r = ArchiveReader::from_reader(csv.as_bytes(), "y.csv").unwrap();
        let items: Vec<RedditItem> = r.by_ref().collect();
        assert_eq!(items.len(), 1);
        assert_eq!(r.stats().problems[0].line, 2);
    }
}
