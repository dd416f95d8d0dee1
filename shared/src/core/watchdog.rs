//! The missed-daily-run check (docs/operations.md): CloudWatch has no trading calendar,
//! so a watchdog asks, every day, whether the latest trading day whose evening run is due
//! has its signal run, and emits `DailyRunMissing` (1 or 0) for the alarm.
//!
//! The day checked is the latest trading day whose run is due by `now`: the evening chain
//! starts at 16:30 New York and is due by [`RUN_DUE`]. On a weekend or a holiday that is
//! the trading day before, so a missed Friday stays missing (and the alarm in ALARM) over
//! the weekend until the day is replayed (`tft run daily --date D`), not only on Friday
//! evening.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::core::calendar::{new_york_date, new_york_instant};
use crate::core::nyse;

/// When a trading day's signal run must exist (New York time): the chain starts at 16:30
/// after the close and takes minutes; the watchdog runs at 18:30.
pub const RUN_DUE: NaiveTime = match NaiveTime::from_hms_opt(18, 0, 0) {
    Some(t) => t,
    None => panic!("18:00 is a time"),
};

/// The latest trading day whose evening run is due at `now`.
pub fn due_trading_day(now: DateTime<Utc>) -> NaiveDate {
    let today = new_york_date(now);
    if nyse::is_trading_day(today) && now >= new_york_instant(today, RUN_DUE) {
        today
    } else {
        nyse::previous_trading_day(today)
    }
}

/// What the watchdog found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyRunCheck {
    /// The trading day checked ([`due_trading_day`]).
    pub trading_date: NaiveDate,
    /// Whether that day has its signal run (a `signal_runs` row).
    pub signal_run_recorded: bool,
    /// The metric's value: the run is missing.
    pub missing: bool,
}

/// The verdict for `trading_date` given whether its run is recorded.
pub fn check_daily_run(trading_date: NaiveDate, signal_run_recorded: bool) -> DailyRunCheck {
    DailyRunCheck {
        trading_date,
        signal_run_recorded,
        missing: !signal_run_recorded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny(date: &str, time: &str) -> DateTime<Utc> {
        new_york_instant(
            date.parse().unwrap(),
            NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
        )
    }

    fn d(date: &str) -> NaiveDate {
        date.parse().unwrap()
    }

    #[test]
    fn the_evening_of_a_trading_day_checks_that_day() {
        assert_eq!(due_trading_day(ny("2025-03-19", "18:30")), d("2025-03-19"));
        // Summer time and winter time: the same New York wall clock.
        assert_eq!(due_trading_day(ny("2025-07-15", "18:30")), d("2025-07-15"));
        assert_eq!(due_trading_day(ny("2025-12-15", "18:30")), d("2025-12-15"));
    }

    #[test]
    fn before_the_run_is_due_the_previous_trading_day_is_checked() {
        assert_eq!(due_trading_day(ny("2025-03-19", "17:59")), d("2025-03-18"));
        assert_eq!(due_trading_day(ny("2025-03-17", "10:00")), d("2025-03-14"));
    }

    #[test]
    fn weekends_and_holidays_check_the_last_trading_day() {
        // Saturday and Sunday: Friday.
        assert_eq!(due_trading_day(ny("2025-03-22", "18:30")), d("2025-03-21"));
        assert_eq!(due_trading_day(ny("2025-03-23", "18:30")), d("2025-03-21"));
        // Good Friday 2025 (April 18): Thursday.
        assert_eq!(due_trading_day(ny("2025-04-18", "18:30")), d("2025-04-17"));
        // Thanksgiving 2025 (Nov 27): Wednesday; the early close the day after is a
        // trading day with its own run.
        assert_eq!(due_trading_day(ny("2025-11-27", "18:30")), d("2025-11-26"));
        assert_eq!(due_trading_day(ny("2025-11-28", "18:30")), d("2025-11-28"));
    }

    #[test]
    fn a_missing_run_is_missing() {
        assert!(check_daily_run(d("2025-03-19"), false).missing);
        assert!(!check_daily_run(d("2025-03-19"), true).missing);
    }
}
