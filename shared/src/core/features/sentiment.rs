//! Sentiment features of each bar, from the daily aggregates of that bar's trading day
//! and the four before it.
//!
//! Joining aggregates to bars: an aggregate dated T belongs to the first bar dated
//! `>= T`, provided T is after the previous bar's date (for the first bar: T equal to its
//! date; older aggregates precede the series and are dropped). Usually T is a bar's date;
//! when it is not (an exchange holiday, which the calendar still counts as a quiet
//! trading day, or a day missing from the price history), its items were created before
//! T's cutoff and so before the next bar's cutoff: folding them forward is point in
//! time. Aggregates dated after the last bar are ignored. Several aggregates on one bar
//! are merged: mentions add up, the three sentiment values are mention-weighted means
//! (exact unless an author posted on both days). An aggregate with 0 mentions is
//! ignored.
//!
//! A bar with no aggregate has 0 mentions and neutral sentiment: every value 0.

use chrono::NaiveDate;

use super::DailySentiment;

/// More mentions than this in a day is conviction (exactly 50 is not).
pub const CONVICTION_MENTIONS: u32 = 50;
/// Trading days in the sentiment moving averages (D included).
pub const MA_DAYS: usize = 5;

/// The sentiment features, in schema order.
pub const NAMES: [&str; 10] = [
    "has_mentions",
    "mention_count",
    "mention_count_log",
    "conviction",
    "sentiment_score",
    "sentiment_weighted",
    "bullish_share",
    "sentiment_ma_5",
    "sentiment_trend",
    "mention_trend",
];

/// One bar's sentiment after the join (all zero without mentions).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BarSentiment {
    pub mentions: u32,
    pub mean_sentiment: f64,
    pub weighted_sentiment: f64,
    pub bullish_share: f64,
}

/// The aggregates joined to `dates` (ascending bar dates), as described above.
pub fn join_to_bars(dates: &[NaiveDate], sentiment: &[DailySentiment]) -> Vec<BarSentiment> {
    // A total order, so the merge of same-day aggregates does not depend on input order.
    let mut sorted: Vec<&DailySentiment> = sentiment.iter().filter(|s| s.mentions > 0).collect();
    sorted.sort_by(|a, b| {
        a.trading_date
            .cmp(&b.trading_date)
            .then(a.mentions.cmp(&b.mentions))
            .then(a.mean_sentiment.total_cmp(&b.mean_sentiment))
            .then(a.weighted_sentiment.total_cmp(&b.weighted_sentiment))
            .then(a.bullish_share.total_cmp(&b.bullish_share))
    });
    let mut next = 0;
    let mut out = Vec::with_capacity(dates.len());
    for (i, &date) in dates.iter().enumerate() {
        let after = if i == 0 {
            date.pred_opt()
        } else {
            Some(dates[i - 1])
        };
        while next < sorted.len() && Some(sorted[next].trading_date) <= after {
            next += 1; // before the series, or already consumed
        }
        let start = next;
        while next < sorted.len() && sorted[next].trading_date <= date {
            next += 1;
        }
        out.push(merge(&sorted[start..next]));
    }
    out
}

fn merge(rows: &[&DailySentiment]) -> BarSentiment {
    match rows {
        [] => BarSentiment::default(),
        [one] => BarSentiment {
            mentions: one.mentions,
            mean_sentiment: one.mean_sentiment,
            weighted_sentiment: one.weighted_sentiment,
            bullish_share: one.bullish_share,
        },
        many => {
            let mentions: u32 = many.iter().map(|r| r.mentions).sum();
            let total = f64::from(mentions);
            let mean = |field: fn(&DailySentiment) -> f64| {
                many.iter()
                    .map(|r| f64::from(r.mentions) * field(r))
                    .sum::<f64>()
                    / total
            };
            BarSentiment {
                mentions,
                mean_sentiment: mean(|r| r.mean_sentiment),
                weighted_sentiment: mean(|r| r.weighted_sentiment),
                bullish_share: mean(|r| r.bullish_share),
            }
        }
    }
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Mean of `value` over bars `i - 4..=i`; bars before the first count as 0 (no mentions).
fn trailing_mean(days: &[BarSentiment], i: usize, value: fn(&BarSentiment) -> f64) -> f64 {
    let from = (i + 1).saturating_sub(MA_DAYS);
    days[from..=i].iter().map(value).sum::<f64>() / MA_DAYS as f64
}

fn log_mentions(s: &BarSentiment) -> f64 {
    f64::from(s.mentions).ln_1p()
}

/// The sentiment features of every bar (`dates` ascending).
pub fn sentiment_features(
    dates: &[NaiveDate],
    sentiment: &[DailySentiment],
) -> Vec<[f64; NAMES.len()]> {
    let days = join_to_bars(dates, sentiment);
    (0..days.len())
        .map(|i| {
            let d = &days[i];
            let ma_5 = trailing_mean(&days, i, |s| s.mean_sentiment);
            let log_ma_5 = trailing_mean(&days, i, log_mentions);
            [
                flag(d.mentions > 0),
                f64::from(d.mentions),
                log_mentions(d),
                flag(d.mentions > CONVICTION_MENTIONS),
                d.mean_sentiment,
                d.weighted_sentiment,
                d.bullish_share,
                ma_5,
                d.mean_sentiment - ma_5,
                log_mentions(d) - log_ma_5,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 6, d).unwrap()
    }

    fn agg(d: u32, mentions: u32, sentiment: f64) -> DailySentiment {
        DailySentiment {
            trading_date: day(d),
            mentions,
            mean_sentiment: sentiment,
            weighted_sentiment: sentiment / 2.0,
            bullish_share: if sentiment > 0.05 { 1.0 } else { 0.0 },
        }
    }

    fn column(rows: &[[f64; NAMES.len()]], name: &str) -> Vec<f64> {
        let k = NAMES.iter().position(|n| *n == name).unwrap();
        rows.iter().map(|r| r[k]).collect()
    }

    /// Mon 2021-06-07 .. Fri 06-11, Mon 06-14.
    fn week() -> Vec<NaiveDate> {
        [7, 8, 9, 10, 11, 14].map(day).to_vec()
    }

    #[test]
    fn no_mentions_is_all_zero() {
        let rows = sentiment_features(&week(), &[]);
        assert_eq!(rows.len(), 6);
        assert!(rows.iter().flatten().all(|v| *v == 0.0));
        // A zero-mention aggregate is the same as none.
        assert_eq!(sentiment_features(&week(), &[agg(8, 0, 0.9)]), rows);
    }

    #[test]
    fn counts_and_conviction_threshold() {
        let rows = sentiment_features(&week(), &[agg(7, 50, 0.2), agg(8, 51, -0.3)]);
        assert_eq!(column(&rows, "has_mentions")[..3], [1.0, 1.0, 0.0]);
        assert_eq!(column(&rows, "mention_count")[..3], [50.0, 51.0, 0.0]);
        assert_eq!(column(&rows, "mention_count_log")[1], 52.0_f64.ln());
        assert_eq!(column(&rows, "conviction")[..3], [0.0, 1.0, 0.0]);
        assert_eq!(column(&rows, "sentiment_score")[1], -0.3);
        assert_eq!(column(&rows, "sentiment_weighted")[1], -0.15);
        assert_eq!(column(&rows, "bullish_share")[..2], [1.0, 0.0]);
    }

    #[test]
    fn moving_average_and_trends_by_hand() {
        // Scores: 0.5, -, 0.25, -, -, 1.0 (days without mentions count as 0).
        let s = [agg(7, 1, 0.5), agg(9, 3, 0.25), agg(14, 7, 1.0)];
        let rows = sentiment_features(&week(), &s);
        let ma = column(&rows, "sentiment_ma_5");
        let trend = column(&rows, "sentiment_trend");
        assert!((ma[0] - 0.1).abs() < 1e-15); // bars before the series count as 0
        assert!((ma[4] - 0.15).abs() < 1e-15);
        assert!((trend[4] + 0.15).abs() < 1e-15);
        assert!((ma[5] - 0.25).abs() < 1e-15);
        assert!((trend[5] - 0.75).abs() < 1e-15);
        let m = column(&rows, "mention_trend");
        let expected = 8.0_f64.ln() - (4.0_f64.ln() + 8.0_f64.ln()) / 5.0;
        assert!((m[5] - expected).abs() < 1e-15);
    }

    #[test]
    fn aggregates_off_the_bars_fold_into_the_next_bar() {
        // No bar on Wednesday 06-09 (a holiday): its items were created before its
        // cutoff, so before Thursday's. Merged with Thursday's, mention-weighted.
        let dates = [7, 8, 10, 11].map(day);
        let s = [agg(9, 1, 0.8), agg(10, 3, 0.4)];
        let joined = join_to_bars(&dates, &s);
        assert_eq!(joined[1], BarSentiment::default());
        assert_eq!(joined[2].mentions, 4);
        assert!((joined[2].mean_sentiment - (0.8 + 3.0 * 0.4) / 4.0).abs() < 1e-15);
        assert!((joined[2].bullish_share - 1.0).abs() < 1e-15);
        assert_eq!(joined[3], BarSentiment::default());
    }

    #[test]
    fn aggregates_outside_the_series_are_dropped() {
        let dates = [8, 9].map(day);
        let s = [agg(7, 5, 0.5), agg(10, 5, 0.5)];
        assert!(join_to_bars(&dates, &s)
            .iter()
            .all(|b| *b == BarSentiment::default()));
    }

    #[test]
    fn input_order_does_not_matter() {
        let mut s = vec![
            agg(9, 1, 0.8),
            agg(10, 3, 0.1),
            agg(10, 2, 0.3),
            agg(7, 9, -0.2),
        ];
        let dates = [7, 8, 10, 11].map(day);
        let a = sentiment_features(&dates, &s);
        s.reverse();
        let b = sentiment_features(&dates, &s);
        assert_eq!(a, b);
    }
}
