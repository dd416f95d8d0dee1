//! The drawdown breaker with a timed cool-off (freqtrade's `MaxDrawdown` protection).
//!
//! After a day's close, with the portfolio marked at that day's closes, [`step`]:
//! - **trips** when the breaker is armed and the drawdown from the equity peak is above
//!   [`RiskConfig::max_drawdown`] (the risk rule's comparison: 15 % exactly still
//!   trades). The trip day and the following `trading_days` NYSE trading days are
//!   *locked*: no new entries are planned on them (exits keep running; open positions
//!   are not sold at the trip);
//! - **releases** on the first day it runs after the last locked day (the 21st trading
//!   day after the trip with the default 20): the equity peak is reset to the equity at
//!   that day's closes, so the drawdown starts again from 0, and the day's entries are
//!   planned as usual;
//! - with [`BreakerMode::Permanent`] (the seed's halt) a trip never releases.
//!
//! While locked the breaker does not trip again (the lock is not extended). The state
//! is a small [`Breaker`] value carried in [`PortfolioState::breaker`], so the risk
//! manager's `check_portfolio` sees the lock, and the backtester (memory) and
//! generate-signals (the `breaker_events` table) carry it from day to day. Prose:
//! `docs/risk.md`, "Drawdown breaker".

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::rules::TOLERANCE;
use super::RiskConfig;
use crate::core::nyse;
use crate::core::portfolio::PortfolioState;

/// What a trip does; `Default` is the 20-trading-day cool-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum BreakerMode {
    /// No entries on the trip day and the next `trading_days` trading days; then the
    /// peak resets to the equity and trading resumes.
    CoolOff { trading_days: u32 },
    /// No entries ever again after a trip (the seed's "stop trading").
    Permanent,
}

impl Default for BreakerMode {
    fn default() -> Self {
        BreakerMode::CoolOff { trading_days: 20 }
    }
}

impl std::fmt::Display for BreakerMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BreakerMode::CoolOff { trading_days } => {
                write!(f, "cool-off of {trading_days} trading days")
            }
            BreakerMode::Permanent => write!(f, "permanent"),
        }
    }
}

/// `TFT_BREAKER_COOLOFF_DAYS`: a number of trading days (`20`), or `permanent` / `0`
/// for the seed's halt.
impl std::str::FromStr for BreakerMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("permanent") {
            return Ok(BreakerMode::Permanent);
        }
        match s.parse::<u32>() {
            Ok(0) => Ok(BreakerMode::Permanent),
            Ok(trading_days) => Ok(BreakerMode::CoolOff { trading_days }),
            Err(_) => Err(format!(
                "{s:?} is neither a number of trading days nor \"permanent\""
            )),
        }
    }
}

/// The breaker's state between days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Breaker {
    /// Entries allowed; trips when the drawdown passes the limit.
    #[default]
    Armed,
    /// No entries from `tripped_on` through `locked_until` (`None`: for good).
    Locked {
        tripped_on: NaiveDate,
        locked_until: Option<NaiveDate>,
    },
}

impl Breaker {
    /// True when no entry may be planned on signal date `date`.
    pub fn locks(&self, date: NaiveDate) -> bool {
        match self {
            Breaker::Armed => false,
            Breaker::Locked {
                tripped_on,
                locked_until,
            } => date >= *tripped_on && locked_until.is_none_or(|u| date <= u),
        }
    }

    pub fn is_locked(&self) -> bool {
        matches!(self, Breaker::Locked { .. })
    }

    /// The first trading day the lock is over (`None` while armed or when permanent).
    pub fn releases_on(&self) -> Option<NaiveDate> {
        match self {
            Breaker::Locked {
                locked_until: Some(u),
                ..
            } => Some(nyse::next_trading_day(*u)),
            _ => None,
        }
    }
}

/// A trip or a release, with the numbers at that day's closes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BreakerEvent {
    Tripped {
        /// The signal date whose closes tripped it (locked from this day on).
        date: NaiveDate,
        /// Drawdown from `peak_equity` at the closes: above the limit.
        drawdown: f64,
        equity: f64,
        peak_equity: f64,
        /// The last locked trading day; `None`: permanent.
        locked_until: Option<NaiveDate>,
    },
    Released {
        /// The first trading day after the lock: entries are planned again from it.
        date: NaiveDate,
        tripped_on: NaiveDate,
        /// Drawdown from the old peak at the closes, before the reset.
        drawdown: f64,
        /// Equity at the closes: the new peak.
        equity: f64,
        /// The peak before the reset.
        previous_peak: f64,
    },
}

impl BreakerEvent {
    /// `breaker.tripped` or `breaker.released`: the bus detail-type and the
    /// notification's event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            BreakerEvent::Tripped { .. } => "breaker.tripped",
            BreakerEvent::Released { .. } => "breaker.released",
        }
    }

    /// `tripped` or `released` (storage).
    pub fn kind(&self) -> &'static str {
        match self {
            BreakerEvent::Tripped { .. } => "tripped",
            BreakerEvent::Released { .. } => "released",
        }
    }

    pub fn date(&self) -> NaiveDate {
        match self {
            BreakerEvent::Tripped { date, .. } | BreakerEvent::Released { date, .. } => *date,
        }
    }

    pub fn drawdown(&self) -> f64 {
        match self {
            BreakerEvent::Tripped { drawdown, .. } | BreakerEvent::Released { drawdown, .. } => {
                *drawdown
            }
        }
    }

    pub fn equity(&self) -> f64 {
        match self {
            BreakerEvent::Tripped { equity, .. } | BreakerEvent::Released { equity, .. } => *equity,
        }
    }
}

/// The breaker's move on signal date `date`: `state` must be marked at that day's
/// closes. Trips (sets `state.breaker` locked) or releases (arms it and resets
/// `state.peak_equity` to the equity) and says which; `None` when nothing changed.
pub fn step(
    state: &mut PortfolioState,
    date: NaiveDate,
    config: &RiskConfig,
) -> Option<BreakerEvent> {
    let equity = state.equity_at_marks();
    let drawdown = state.drawdown_at_marks();
    match state.breaker {
        Breaker::Locked {
            tripped_on,
            locked_until: Some(until),
        } if date > until => {
            let previous_peak = state.peak_equity;
            state.peak_equity = equity;
            state.breaker = Breaker::Armed;
            Some(BreakerEvent::Released {
                date,
                tripped_on,
                drawdown,
                equity,
                previous_peak,
            })
        }
        Breaker::Locked { .. } => None,
        Breaker::Armed if drawdown > config.max_drawdown + TOLERANCE => {
            let locked_until = match config.breaker {
                BreakerMode::CoolOff { trading_days } => {
                    Some(nyse::add_trading_days(date, i64::from(trading_days)))
                }
                BreakerMode::Permanent => None,
            };
            state.breaker = Breaker::Locked {
                tripped_on: date,
                locked_until,
            };
            Some(BreakerEvent::Tripped {
                date,
                drawdown,
                equity,
                peak_equity: state.peak_equity,
                locked_until,
            })
        }
        Breaker::Armed => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::features::Label;
    use crate::core::risk::{evaluate, Candidate};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// All cash at `equity`, peak 100 000.
    fn at(equity: f64) -> PortfolioState {
        let mut s = PortfolioState::new(100_000.0);
        s.cash = equity;
        s
    }

    fn buy(date: NaiveDate) -> Candidate {
        Candidate {
            ticker: "NEW".into(),
            date,
            entry_price: 50.0,
            confidence: 0.9,
            predicted: Label::Buy,
            volatility_20d: 0.015,
            expected_return: None,
        }
    }

    fn codes(state: &PortfolioState, date: NaiveDate) -> Vec<&'static str> {
        evaluate(&buy(date), state, &RiskConfig::default())
            .rejections()
            .iter()
            .map(|r| r.code())
            .collect()
    }

    #[test]
    fn breaker_exactly_15_pct_does_not_trip_15_01_does() {
        let c = RiskConfig::default();
        let mut s = at(85_000.0);
        assert_eq!(step(&mut s, d("2021-03-01"), &c), None);
        assert_eq!(s.breaker, Breaker::Armed);
        let mut s = at(84_990.0);
        let e = step(&mut s, d("2021-03-01"), &c).expect("trips");
        let BreakerEvent::Tripped {
            drawdown,
            equity,
            peak_equity,
            locked_until,
            ..
        } = e
        else {
            panic!("{e:?}")
        };
        assert!((drawdown - 0.1501).abs() < 1e-12, "{drawdown}");
        assert_eq!((equity, peak_equity), (84_990.0, 100_000.0));
        // 2021-03-01 + 20 trading days (no holiday in between) = 2021-03-29.
        assert_eq!(locked_until, Some(d("2021-03-29")));
        assert_eq!(e.event_type(), "breaker.tripped");
    }

    #[test]
    fn breaker_locks_the_trip_day_and_20_trading_days_across_a_holiday_and_releases_on_day_21() {
        let c = RiskConfig::default();
        // Tripped on Thursday 2021-03-25; Good Friday 2021-04-02 is closed, so the 20th
        // trading day after the trip is 2021-04-23 and the 21st 2021-04-26.
        let trip = d("2021-03-25");
        let mut s = at(80_000.0);
        assert!(step(&mut s, trip, &c).is_some());
        let until = d("2021-04-23");
        assert_eq!(
            s.breaker,
            Breaker::Locked {
                tripped_on: trip,
                locked_until: Some(until)
            }
        );
        assert_eq!(nyse::trading_days_between(trip, until), 20);
        assert!(!nyse::is_trading_day(d("2021-04-02")));
        assert_eq!(s.breaker.releases_on(), Some(d("2021-04-26")));
        // Equity recovers to 99 000 (1 % down) during the lock: still no entries, and
        // every locked day steps to nothing.
        s.cash = 99_000.0;
        let mut day = trip;
        for n in 0..=20 {
            assert_eq!(nyse::trading_days_between(trip, day), n);
            if n > 0 {
                assert_eq!(step(&mut s, day, &c), None, "{day}");
            }
            assert!(s.breaker.locks(day), "{day}");
            assert_eq!(codes(&s, day), ["breaker_locked"], "{day}");
            day = nyse::next_trading_day(day);
        }
        // Day 21: released, peak reset to the equity, the entry is accepted.
        assert_eq!(day, d("2021-04-26"));
        let e = step(&mut s, day, &c).expect("releases");
        assert_eq!(
            e,
            BreakerEvent::Released {
                date: day,
                tripped_on: trip,
                drawdown: 1.0 - 99_000.0 / 100_000.0,
                equity: 99_000.0,
                previous_peak: 100_000.0,
            }
        );
        assert_eq!(s.breaker, Breaker::Armed);
        assert_eq!(s.peak_equity, 99_000.0);
        assert_eq!(s.drawdown_at_marks(), 0.0);
        assert!(codes(&s, day).is_empty());
    }

    #[test]
    fn breaker_release_with_the_drawdown_still_above_15_pct_resets_the_peak_and_trades() {
        let c = RiskConfig::default();
        let mut s = at(80_000.0);
        step(&mut s, d("2021-03-01"), &c).unwrap();
        // Still 25 % down on release day: the peak resets to 75 000, no re-trip.
        s.cash = 75_000.0;
        assert_eq!(codes(&s, d("2021-03-29")), ["drawdown_breaker"]);
        let e = step(&mut s, d("2021-03-30"), &c).unwrap();
        assert_eq!(e.kind(), "released");
        assert!((e.drawdown() - 0.25).abs() < 1e-12);
        assert_eq!((s.peak_equity, s.breaker), (75_000.0, Breaker::Armed));
        assert!(codes(&s, d("2021-03-30")).is_empty());
    }

    #[test]
    fn breaker_trips_again_after_a_release_from_the_new_peak() {
        let c = RiskConfig::default();
        let mut s = at(80_000.0);
        step(&mut s, d("2021-03-01"), &c).unwrap();
        step(&mut s, d("2021-03-30"), &c).unwrap(); // released at 80 000
                                                    // 68 000 = exactly 15 % below the new peak: trades.
        s.cash = 68_000.0;
        assert_eq!(step(&mut s, d("2021-03-31"), &c), None);
        // 67 990: 15.0125 % below 80 000: trips again.
        s.cash = 67_990.0;
        let e = step(&mut s, d("2021-04-01"), &c).unwrap();
        assert_eq!(e.kind(), "tripped");
        assert!(matches!(e, BreakerEvent::Tripped { peak_equity, .. } if peak_equity == 80_000.0));
        assert!(s.breaker.locks(d("2021-04-01")));
    }

    #[test]
    fn breaker_permanent_never_releases() {
        let c = RiskConfig {
            breaker: BreakerMode::Permanent,
            ..RiskConfig::default()
        };
        let mut s = at(84_000.0);
        let e = step(&mut s, d("2021-03-01"), &c).unwrap();
        assert!(matches!(
            e,
            BreakerEvent::Tripped {
                locked_until: None,
                ..
            }
        ));
        // Back to a new high: still halted, years later.
        s.cash = 120_000.0;
        for later in ["2021-03-02", "2021-06-01", "2024-01-02"] {
            assert_eq!(step(&mut s, d(later), &c), None);
            assert!(s.breaker.locks(d(later)));
            assert_eq!(codes(&s, d(later)), ["breaker_locked"]);
        }
        assert_eq!(s.breaker.releases_on(), None);
    }

    #[test]
    fn breaker_mode_parses_days_zero_and_permanent() {
        assert_eq!(
            "20".parse::<BreakerMode>(),
            Ok(BreakerMode::CoolOff { trading_days: 20 })
        );
        assert_eq!(" 5 ".parse(), Ok(BreakerMode::CoolOff { trading_days: 5 }));
        assert_eq!("0".parse(), Ok(BreakerMode::Permanent));
        assert_eq!("Permanent".parse(), Ok(BreakerMode::Permanent));
        assert!("-3".parse::<BreakerMode>().is_err());
        assert!("forever".parse::<BreakerMode>().is_err());
    }

    #[test]
    fn breaker_state_and_events_serialise_with_their_tags() {
        let b = Breaker::Locked {
            tripped_on: d("2021-03-01"),
            locked_until: Some(d("2021-03-29")),
        };
        assert_eq!(
            serde_json::to_value(b).unwrap(),
            serde_json::json!({"state": "locked", "tripped_on": "2021-03-01", "locked_until": "2021-03-29"})
        );
        assert_eq!(
            serde_json::to_value(BreakerMode::default()).unwrap(),
            serde_json::json!({"mode": "cool_off", "trading_days": 20})
        );
        // A portfolio stored before the breaker existed reads as armed.
        let old = r#"{"cash": 1.0, "positions": [], "peak_equity": 1.0, "realized_pnl": 0.0}"#;
        let s: PortfolioState = serde_json::from_str(old).unwrap();
        assert_eq!(s.breaker, Breaker::Armed);
    }
}
