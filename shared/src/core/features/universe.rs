//! The market block of the features: what a ticker's row says against the day's market,
//! computed once per date over every ticker's per-ticker row ([`super::ticker_features`]).
//!
//! - **Regime**, from the benchmark's bars (SPY) dated `<= D` only: SPY above its 200-day
//!   SMA, its gap to it, its 20-day return and volatility, the ticker's 20-day return in
//!   excess of SPY's, and breadth (the share of the universe above its own 50-day SMA).
//!   Without a benchmark bar in the last [`BENCHMARK_MAX_AGE_DAYS`] days, or before SPY
//!   has 200 bars, the benchmark features are 0 and `regime_ready` is 0.
//! - **Cross-sectional ranks**: percentile ranks in `[0, 1]` of a few per-ticker features
//!   among the universe's rows of that date ([`percentile`]: ties averaged).
//! - **Sector-relative strength**: the 5- and 20-day return minus the median of the
//!   ticker's sector in the universe that date, from the sector map committed in
//!   `data/sectors.csv` ([`SectorMap::committed`]); 0 with `sector_ready` 0 for a ticker
//!   without a sector or a sector with fewer than [`SECTOR_MIN_PEERS`] rows that date.
//!
//! The universe is the set the model was trained on (the export's `universe`; live, the
//! watchlist). Only its rows make the ranks, medians and breadth: a ticker outside it
//! (a Reddit trending name) is ranked against the universe without changing the
//! universe's values, so serving ranks over the same set training did. The row of day D
//! reads the rows of day D (themselves point in time) and benchmark bars `<= D`: nothing
//! after D.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::NaiveDate;

use super::{technical, FeatureRow, FEATURE_SCHEMA, TICKER_FEATURES};
use crate::core::indicators::sma::sma;
use crate::core::indicators::SMA_LONG;
use crate::core::DailyBar;

/// The regime features, in schema order.
pub const REGIME_NAMES: [&str; 7] = [
    "regime_ready",
    "market_above_sma_200",
    "market_sma_200_gap",
    "market_return_20d",
    "market_volatility_20d",
    "excess_return_20d",
    "breadth_above_sma_50",
];

/// The per-ticker features ranked across the universe each day, and their rank names.
pub const RANKED: [&str; 7] = [
    "return_5d",
    "return_20d",
    "volatility_20d",
    "volume_ratio",
    "rsi_14",
    "sma_gap",
    "candle_body",
];
pub const RANK_NAMES: [&str; 7] = [
    "rank_return_5d",
    "rank_return_20d",
    "rank_volatility_20d",
    "rank_volume_ratio",
    "rank_rsi_14",
    "rank_sma_gap",
    "rank_candle_body",
];

/// The sector features, in schema order.
pub const SECTOR_NAMES: [&str; 3] = [
    "sector_ready",
    "sector_rel_return_5d",
    "sector_rel_return_20d",
];

/// Every market-block name: regime, ranks, sector.
pub const NAMES: [&str; REGIME_NAMES.len() + RANK_NAMES.len() + SECTOR_NAMES.len()] = {
    let mut out = [""; REGIME_NAMES.len() + RANK_NAMES.len() + SECTOR_NAMES.len()];
    let mut i = 0;
    while i < REGIME_NAMES.len() {
        out[i] = REGIME_NAMES[i];
        i += 1;
    }
    let mut j = 0;
    while j < RANK_NAMES.len() {
        out[i + j] = RANK_NAMES[j];
        j += 1;
    }
    let mut k = 0;
    while k < SECTOR_NAMES.len() {
        out[i + j + k] = SECTOR_NAMES[k];
        k += 1;
    }
    out
};

/// A benchmark bar older than this many calendar days (a feed that stopped) is no regime.
pub const BENCHMARK_MAX_AGE_DAYS: i64 = 10;
/// Universe rows of a sector needed that date for a meaningful sector median.
pub const SECTOR_MIN_PEERS: usize = 3;
/// Benchmark return and volatility window (as the ticker's `return_20d`).
const WINDOW_20: usize = technical::WINDOW_20;

/// `ticker,sector` pairs: which sector each ticker is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SectorMap {
    sectors: BTreeMap<String, String>,
}

/// The committed map (`data/sectors.csv`: the 2020-08 GICS sectors of the S&P 500 members
/// among the development tickers; source in `data/README.md`).
const SECTORS_CSV: &str = include_str!("../../../../data/sectors.csv");

static COMMITTED: LazyLock<SectorMap> = LazyLock::new(|| SectorMap::parse(SECTORS_CSV));

impl SectorMap {
    /// The map committed in the repository.
    pub fn committed() -> &'static SectorMap {
        &COMMITTED
    }

    /// A `ticker,sector` CSV with a header line; lines without both fields are skipped.
    /// Tickers are upper-cased with `.` as `-` (Yahoo's spelling, as the store's).
    pub fn parse(csv: &str) -> Self {
        let sectors = csv
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (ticker, sector) = line.split_once(',')?;
                let (ticker, sector) = (ticker.trim(), sector.trim());
                (!ticker.is_empty() && !sector.is_empty()).then(|| {
                    (
                        ticker.to_ascii_uppercase().replace('.', "-"),
                        sector.to_string(),
                    )
                })
            })
            .collect();
        Self { sectors }
    }

    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self {
            sectors: pairs.into_iter().collect(),
        }
    }

    pub fn sector(&self, ticker: &str) -> Option<&str> {
        self.sectors.get(ticker).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.sectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sectors.is_empty()
    }
}

/// What the market block reads besides the tickers' own rows.
#[derive(Debug, Clone, Default)]
pub struct Market {
    /// The benchmark's daily bars (SPY), date order; empty: no regime.
    pub benchmark: Vec<DailyBar>,
    /// The model's universe: the tickers whose rows make the ranks, medians and breadth.
    pub universe: BTreeSet<String>,
    /// Sector of each ticker; [`SectorMap::committed`] unless a test says otherwise.
    pub sectors: SectorMap,
}

impl Market {
    /// The universe `universe`, the benchmark `benchmark`, and the committed sector map.
    pub fn new<I, S>(benchmark: Vec<DailyBar>, universe: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            benchmark,
            universe: universe.into_iter().map(Into::into).collect(),
            sectors: SectorMap::committed().clone(),
        }
    }
}

/// The percentile of `x` among `others` (sorted ascending): `(below + ties / 2) / n`,
/// 0.5 when there are none. This is `x`'s average rank among `others` plus itself, scaled
/// to `[0, 1]`: a universe member's own value is left out of `others`, an outsider's was
/// never in, so both get the same formula and the universe's values never move.
pub fn percentile(others: &[f64], x: f64) -> f64 {
    rank(others, x, false)
}

/// [`percentile`] of `x` among the universe's `sorted` values of the day, leaving out
/// one copy of `x` when the row is a universe member (its own value).
fn rank(sorted: &[f64], x: f64, member: bool) -> f64 {
    let below = sorted.partition_point(|v| *v < x);
    let mut up_to = sorted.partition_point(|v| *v <= x);
    let mut n = sorted.len();
    if member && up_to > below {
        up_to -= 1;
        n -= 1;
    }
    if n == 0 {
        return 0.5;
    }
    (below as f64 + (up_to - below) as f64 / 2.0) / n as f64
}

/// The median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Per benchmark bar: `[above_sma_200, sma_200_gap, return_20d, volatility_20d]`, `None`
/// before SMA 200 is defined (bar 199).
fn benchmark_regime(bars: &[DailyBar]) -> Vec<Option<[f64; 4]>> {
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let sma_200 = sma(&close, SMA_LONG);
    (0..bars.len())
        .map(|i| {
            let s = sma_200[i]?;
            let c = close[i];
            Some([
                f64::from(u8::from(c > s)),
                c / s - 1.0,
                technical::simple_return(&close, i, WINDOW_20),
                technical::volatility(&close, i),
            ])
        })
        .collect()
}

/// The schema position of a per-ticker feature, at compile time (a typo fails the build).
const fn index(name: &str) -> usize {
    let names = FEATURE_SCHEMA.names;
    let mut i = 0;
    while i < TICKER_FEATURES {
        let n = names[i].as_bytes();
        let m = name.as_bytes();
        if n.len() == m.len() {
            let mut k = 0;
            while k < n.len() && n[k] == m[k] {
                k += 1;
            }
            if k == n.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a per-ticker feature")
}

const AT_RETURN_5D: usize = index("return_5d");
const AT_RETURN_20D: usize = index("return_20d");
const AT_SMA_50_GAP: usize = index("close_sma_50_gap");
/// Where the [`RANKED`] features are.
const AT_RANKED: [usize; RANKED.len()] = {
    let mut out = [0; RANKED.len()];
    let mut j = 0;
    while j < RANKED.len() {
        out[j] = index(RANKED[j]);
        j += 1;
    }
    out
};

/// The market block of every row: `rows_by_ticker` are [`super::ticker_features`]'s
/// rows (one ticker per vector, any dates), returned in the same order with the block
/// appended, so each row has the full [`FEATURE_SCHEMA`]. The block of a row of date D
/// depends only on the rows of date D and on `market.benchmark` bars dated `<= D`.
pub fn cross_section(
    mut rows_by_ticker: Vec<Vec<FeatureRow>>,
    market: &Market,
) -> Vec<Vec<FeatureRow>> {
    let (ranked, at_return_5d, at_return_20d, at_sma_50_gap) =
        (AT_RANKED, AT_RETURN_5D, AT_RETURN_20D, AT_SMA_50_GAP);

    let regime = benchmark_regime(&market.benchmark);
    let in_universe: Vec<bool> = rows_by_ticker
        .iter()
        .map(|rows| {
            rows.first()
                .is_some_and(|r| market.universe.contains(&r.ticker))
        })
        .collect();
    let sector: Vec<Option<&str>> = rows_by_ticker
        .iter()
        .map(|rows| rows.first().and_then(|r| market.sectors.sector(&r.ticker)))
        .collect();

    // (date, ticker index, row index), grouped by date.
    let mut cells: Vec<(NaiveDate, u32, u32)> = Vec::new();
    for (t, rows) in rows_by_ticker.iter().enumerate() {
        for (k, row) in rows.iter().enumerate() {
            cells.push((row.date, t as u32, k as u32));
        }
    }
    cells.sort_unstable();

    let mut blocks: Vec<(u32, u32, [f64; NAMES.len()])> = Vec::new();
    let mut start = 0;
    while start < cells.len() {
        let date = cells[start].0;
        let end = start + cells[start..].partition_point(|c| c.0 == date);
        let day = &cells[start..end];
        let value = |c: &(NaiveDate, u32, u32), at: usize| {
            rows_by_ticker[c.1 as usize][c.2 as usize].values[at]
        };
        let members: Vec<&(NaiveDate, u32, u32)> =
            day.iter().filter(|c| in_universe[c.1 as usize]).collect();

        // Regime: the last benchmark bar dated <= D, if recent enough.
        let bench_at = market.benchmark.partition_point(|b| b.date <= date);
        let bench = bench_at
            .checked_sub(1)
            .filter(|&i| (date - market.benchmark[i].date).num_days() <= BENCHMARK_MAX_AGE_DAYS)
            .and_then(|i| regime[i]);
        let breadth = if members.is_empty() {
            0.0
        } else {
            members
                .iter()
                .filter(|c| value(c, at_sma_50_gap) > 0.0)
                .count() as f64
                / members.len() as f64
        };

        // The universe's sorted values of each ranked feature.
        let sorted: Vec<Vec<f64>> = ranked
            .iter()
            .map(|&at| {
                let mut v: Vec<f64> = members.iter().map(|c| value(c, at)).collect();
                v.sort_by(f64::total_cmp);
                v
            })
            .collect();

        // Sector medians over the universe's rows of the day.
        let mut by_sector: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for c in &members {
            if let Some(s) = sector[c.1 as usize] {
                let e = by_sector.entry(s).or_default();
                e.0.push(value(c, at_return_5d));
                e.1.push(value(c, at_return_20d));
            }
        }
        let medians: BTreeMap<&str, Option<(f64, f64)>> = by_sector
            .into_iter()
            .map(|(s, (mut r5, mut r20))| {
                r5.sort_by(f64::total_cmp);
                r20.sort_by(f64::total_cmp);
                let m = (r5.len() >= SECTOR_MIN_PEERS).then(|| (median(&r5), median(&r20)));
                (s, m)
            })
            .collect();

        for c in day {
            let t = c.1 as usize;
            let mut block = [0.0; NAMES.len()];
            let r20 = value(c, at_return_20d);
            if let Some([above, gap, ret, vol]) = bench {
                block[..6].copy_from_slice(&[1.0, above, gap, ret, vol, r20 - ret]);
            }
            block[6] = breadth;
            for (j, (&at, others)) in ranked.iter().zip(&sorted).enumerate() {
                let x = value(c, at);
                block[REGIME_NAMES.len() + j] = rank(others, x, in_universe[t]);
            }
            if let Some(Some((m5, m20))) = sector[t].and_then(|s| medians.get(s)) {
                let at = REGIME_NAMES.len() + RANK_NAMES.len();
                block[at..].copy_from_slice(&[1.0, value(c, at_return_5d) - m5, r20 - m20]);
            }
            blocks.push((c.1, c.2, block));
        }
        start = end;
    }

    for (t, k, block) in blocks {
        let values = &mut rows_by_ticker[t as usize][k as usize].values;
        values.truncate(TICKER_FEATURES);
        values.extend(block.iter().map(|v| if v.is_finite() { *v } else { 0.0 }));
    }
    rows_by_ticker
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(i: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, 4).unwrap() + chrono::Days::new(i)
    }

    /// A per-ticker row of `ticker` on `day(d)` with the named values set (others 0).
    fn row(ticker: &str, d: u64, set: &[(&str, f64)]) -> FeatureRow {
        let mut values = vec![0.0; TICKER_FEATURES];
        for (name, v) in set {
            values[index(name)] = *v;
        }
        FeatureRow {
            ticker: ticker.into(),
            date: day(d),
            values,
        }
    }

    fn get(rows: &[Vec<FeatureRow>], t: usize, k: usize, name: &str) -> f64 {
        rows[t][k].get(name).unwrap()
    }

    fn market(universe: &[&str]) -> Market {
        Market {
            benchmark: Vec::new(),
            universe: universe.iter().map(|t| t.to_string()).collect(),
            sectors: SectorMap::from_pairs(
                [
                    ("A", "Tech"),
                    ("B", "Tech"),
                    ("C", "Tech"),
                    ("D", "Energy"),
                    ("X", "Tech"),
                ]
                .map(|(t, s)| (t.to_string(), s.to_string())),
            ),
        }
    }

    #[test]
    fn percentiles_average_ties_and_stay_in_range() {
        assert_eq!(percentile(&[], 3.0), 0.5);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.0), 0.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 9.0), 1.0);
        assert_eq!(percentile(&[1.0, 2.0, 2.0, 4.0], 2.0), 0.5);
        assert_eq!(percentile(&[1.0, 3.0], 2.0), 0.5);
        // -0.0 ties with 0.0.
        assert_eq!(percentile(&[-1.0, 0.0], -0.0), 0.75);
    }

    #[test]
    fn ranks_are_over_the_universe_and_an_outsider_changes_nothing() {
        let universe = ["A", "B", "C", "D"];
        let rows = |with_outsider: bool| {
            let mut v: Vec<Vec<FeatureRow>> = [0.01, 0.03, 0.03, 0.05]
                .iter()
                .zip(universe)
                .map(|(r, t)| vec![row(t, 0, &[("return_20d", *r)])])
                .collect();
            if with_outsider {
                v.push(vec![row("X", 0, &[("return_20d", 0.04)])]);
            }
            cross_section(v, &market(&universe))
        };
        let out = rows(true);
        // A member against the other three: A below all, B/C one below, one tie, one above.
        let ranks: Vec<f64> = (0..5).map(|t| get(&out, t, 0, "rank_return_20d")).collect();
        assert_eq!(ranks, [0.0, 0.5, 0.5, 1.0, 0.75]);
        // Without the outsider, the universe's values are the same, bit for bit.
        let alone = rows(false);
        for t in 0..4 {
            assert_eq!(alone[t][0].values, out[t][0].values, "ticker {t}");
            assert_eq!(out[t][0].values.len(), FEATURE_SCHEMA.len());
        }
    }

    #[test]
    fn each_date_is_its_own_cross_section() {
        let universe = ["A", "B"];
        let make = |b_day1: f64| {
            cross_section(
                vec![
                    vec![
                        row("A", 0, &[("rsi_14", 40.0)]),
                        row("A", 1, &[("rsi_14", 40.0)]),
                    ],
                    vec![
                        row("B", 0, &[("rsi_14", 60.0)]),
                        row("B", 1, &[("rsi_14", b_day1)]),
                    ],
                ],
                &market(&universe),
            )
        };
        let (low, high) = (make(10.0), make(90.0));
        assert_eq!(get(&low, 0, 0, "rank_rsi_14"), 0.0);
        assert_eq!(get(&low, 0, 1, "rank_rsi_14"), 1.0);
        assert_eq!(get(&high, 0, 1, "rank_rsi_14"), 0.0);
        // Day 0 does not see day 1.
        assert_eq!(low[0][0], high[0][0]);
        assert_eq!(low[1][0], high[1][0]);
        // A lone row has no one to rank against: 0.5.
        let lone = cross_section(vec![vec![row("A", 0, &[])]], &market(&["A"]));
        assert_eq!(get(&lone, 0, 0, "rank_rsi_14"), 0.5);
    }

    #[test]
    fn breadth_and_sector_strength_count_the_universe_only() {
        let universe = ["A", "B", "C", "D"];
        let rows = vec![
            vec![row(
                "A",
                0,
                &[
                    ("close_sma_50_gap", 0.1),
                    ("return_20d", 0.10),
                    ("return_5d", 0.01),
                ],
            )],
            vec![row(
                "B",
                0,
                &[
                    ("close_sma_50_gap", -0.1),
                    ("return_20d", 0.02),
                    ("return_5d", 0.02),
                ],
            )],
            vec![row(
                "C",
                0,
                &[
                    ("close_sma_50_gap", 0.0),
                    ("return_20d", 0.04),
                    ("return_5d", 0.03),
                ],
            )],
            vec![row(
                "D",
                0,
                &[
                    ("close_sma_50_gap", 0.2),
                    ("return_20d", 0.50),
                    ("return_5d", 0.5),
                ],
            )],
            vec![row(
                "X",
                0,
                &[
                    ("close_sma_50_gap", 0.3),
                    ("return_20d", 0.07),
                    ("return_5d", 0.0),
                ],
            )],
        ];
        let out = cross_section(rows, &market(&universe));
        // A and D above their SMA 50 (0 is not above); X is not counted.
        for t in 0..5 {
            assert_eq!(get(&out, t, 0, "breadth_above_sma_50"), 0.5);
        }
        // Tech in the universe: A, B, C; median 20-day return 0.04, 5-day 0.02.
        assert_eq!(get(&out, 0, 0, "sector_ready"), 1.0);
        assert_eq!(get(&out, 0, 0, "sector_rel_return_20d"), 0.10 - 0.04);
        assert_eq!(get(&out, 0, 0, "sector_rel_return_5d"), 0.01 - 0.02);
        assert_eq!(get(&out, 4, 0, "sector_rel_return_20d"), 0.07 - 0.04);
        // Energy has one member: not enough peers.
        assert_eq!(get(&out, 3, 0, "sector_ready"), 0.0);
        assert_eq!(get(&out, 3, 0, "sector_rel_return_20d"), 0.0);
    }

    fn benchmark(n: u64) -> Vec<DailyBar> {
        (0..n)
            .map(|i| {
                let c = 100.0 + i as f64 * 0.1 + (i as f64 * 0.5).sin();
                DailyBar {
                    date: day(i),
                    open: c,
                    high: c,
                    low: c,
                    close: c,
                    adjusted_close: c,
                    volume: 1,
                }
            })
            .collect()
    }

    #[test]
    fn the_regime_reads_the_benchmark_up_to_the_day_only() {
        let spy = benchmark(260);
        let rows = |bench: Vec<DailyBar>| {
            let mut m = market(&["A"]);
            m.benchmark = bench;
            cross_section(
                vec![(0..270)
                    .map(|d| row("A", d, &[("return_20d", 0.05)]))
                    .collect()],
                &m,
            )
        };
        let out = rows(spy.clone());
        let ready: Vec<f64> = (0..270).map(|k| get(&out, 0, k, "regime_ready")).collect();
        assert_eq!(ready.iter().position(|v| *v == 1.0), Some(199));
        let close: Vec<f64> = spy.iter().map(|b| b.close).collect();
        let s200 = close[50..250].iter().sum::<f64>() / 200.0;
        assert!(
            (get(&out, 0, 249, "market_sma_200_gap") - (close[249] / s200 - 1.0)).abs() < 1e-12
        );
        assert_eq!(get(&out, 0, 249, "market_above_sma_200"), 1.0);
        let r20 = close[249] / close[229] - 1.0;
        assert_eq!(get(&out, 0, 249, "market_return_20d"), r20);
        assert_eq!(get(&out, 0, 249, "excess_return_20d"), 0.05 - r20);
        assert!(get(&out, 0, 249, "market_volatility_20d") > 0.0);
        // After the benchmark's last bar (day 259) the regime goes stale after 10 days.
        assert_eq!(get(&out, 0, 269, "regime_ready"), 1.0);
        let stale = rows(benchmark(255));
        assert_eq!(get(&stale, 0, 265, "regime_ready"), 0.0);
        assert_eq!(get(&stale, 0, 265, "market_return_20d"), 0.0);
        // Alter every benchmark bar after day 220: rows up to 220 are bit-identical.
        let mut altered = spy.clone();
        for b in &mut altered[221..] {
            b.close *= 1.37;
        }
        let out2 = rows(altered);
        for k in 0..=220 {
            assert_eq!(out[0][k], out2[0][k], "day {k}");
        }
        assert_ne!(out[0][221], out2[0][221]);
        // No benchmark: the block is 0, flag included, and every value finite.
        let none = rows(Vec::new());
        for name in &REGIME_NAMES[..6] {
            assert!((0..270).all(|k| get(&none, 0, k, name) == 0.0), "{name}");
        }
        assert!(none[0]
            .iter()
            .all(|r| r.values.iter().all(|v| v.is_finite())));
    }

    #[test]
    fn the_committed_sector_map_is_loaded() {
        let map = SectorMap::committed();
        assert_eq!(map.len(), 361);
        assert_eq!(map.sector("AAPL"), Some("Information Technology"));
        assert_eq!(map.sector("XOM"), Some("Energy"));
        // The r/wallstreetbets names outside the S&P 500 of 2020-08 have none.
        assert_eq!(map.sector("GME"), None);
        let parsed = SectorMap::parse("ticker,sector\nbrk.b, Financials\nNOSECTOR,\n");
        assert_eq!(parsed.sector("BRK-B"), Some("Financials"));
        assert_eq!(parsed.len(), 1);
    }
}
