//! The NYSE trading calendar: which days the exchange trades, and when.
//!
//! Regular session 09:30–16:00 America/New_York; early closes at 13:00. Rules (NYSE Rule
//! 7.2 and the exchange's published holiday schedules; details and limits in
//! `docs/risk.md`):
//! - full-day holidays: New Year's Day, Martin Luther King Jr. Day (3rd Monday of January,
//!   from 1998), Washington's Birthday (3rd Monday of February), Good Friday, Memorial Day
//!   (last Monday of May), Juneteenth (June 19, from 2022), Independence Day, Labor Day
//!   (1st Monday of September), Thanksgiving (4th Thursday of November), Christmas;
//! - a fixed-date holiday on a Saturday is observed on the Friday before, on a Sunday on
//!   the Monday after; except New Year's Day on a Saturday, which is not observed at all
//!   (the Friday before is the last trading day of the year and stays open);
//! - early close (13:00) on July 3 when it is Monday–Thursday, on the day after
//!   Thanksgiving, and on December 24 when it is Monday–Thursday;
//! - unscheduled closures (funerals, storms, 9/11) are the explicit list
//!   [`SPECIAL_CLOSURES`].

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Utc, Weekday};
use serde::Serialize;

use super::calendar::{is_weekend, new_york_date, new_york_instant};

/// Regular opening time, New York.
pub const OPEN_TIME: NaiveTime = hms(9, 30);
/// Regular closing time, New York.
pub const CLOSE_TIME: NaiveTime = hms(16, 0);
/// Closing time of an early-close day, New York.
pub const EARLY_CLOSE_TIME: NaiveTime = hms(13, 0);

const fn hms(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => panic!("valid time"),
    }
}

const fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("valid date"),
    }
}

/// Unscheduled full-day closures on weekdays that are not holidays.
pub const SPECIAL_CLOSURES: &[(NaiveDate, &str)] = &[
    (ymd(1985, 9, 27), "Hurricane Gloria"),
    (ymd(1994, 4, 27), "Day of mourning: President Nixon"),
    (ymd(2001, 9, 11), "September 11 attacks"),
    (ymd(2001, 9, 12), "September 11 attacks"),
    (ymd(2001, 9, 13), "September 11 attacks"),
    (ymd(2001, 9, 14), "September 11 attacks"),
    (ymd(2004, 6, 11), "Day of mourning: President Reagan"),
    (ymd(2007, 1, 2), "Day of mourning: President Ford"),
    (ymd(2012, 10, 29), "Hurricane Sandy"),
    (ymd(2012, 10, 30), "Hurricane Sandy"),
    (
        ymd(2018, 12, 5),
        "Day of mourning: President George H. W. Bush",
    ),
    (ymd(2025, 1, 9), "Day of mourning: President Carter"),
];

/// One trading day's regular session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Session {
    pub date: NaiveDate,
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
    /// Closes at 13:00 New York instead of 16:00.
    pub early_close: bool,
}

/// Easter Sunday of `year` (Gregorian calendar; the anonymous "Meeus/Jones/Butcher"
/// computus).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(year, month as u32, day as u32)
}

/// The `n`-th `weekday` of a month (n from 1).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("exists in every month")
}

/// The last `weekday` of a month.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let mut d = ymd(year, month + 1, 1) - Days::new(1);
    while d.weekday() != weekday {
        d = d - Days::new(1);
    }
    d
}

/// A fixed-date holiday moved off the weekend: Saturday → Friday, Sunday → Monday.
fn observed(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Days::new(1),
        Weekday::Sun => d + Days::new(1),
        _ => d,
    }
}

/// The full-day holidays (observed dates) of `year`, in date order, special closures not
/// included. Every observed date falls within `year`.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut out = Vec::with_capacity(10);
    let new_year = ymd(year, 1, 1);
    // Saturday: not observed (NYSE keeps the last trading day of the year open).
    if new_year.weekday() != Weekday::Sat {
        out.push((observed(new_year), "New Year's Day"));
    }
    if year >= 1998 {
        out.push((
            nth_weekday(year, 1, Weekday::Mon, 3),
            "Martin Luther King Jr. Day",
        ));
    }
    out.push((
        nth_weekday(year, 2, Weekday::Mon, 3),
        "Washington's Birthday",
    ));
    out.push((easter_sunday(year) - Days::new(2), "Good Friday"));
    out.push((last_weekday(year, 5, Weekday::Mon), "Memorial Day"));
    if year >= 2022 {
        out.push((observed(ymd(year, 6, 19)), "Juneteenth"));
    }
    out.push((observed(ymd(year, 7, 4)), "Independence Day"));
    out.push((nth_weekday(year, 9, Weekday::Mon, 1), "Labor Day"));
    out.push((nth_weekday(year, 11, Weekday::Thu, 4), "Thanksgiving Day"));
    out.push((observed(ymd(year, 12, 25)), "Christmas Day"));
    out
}

/// Why the exchange is closed on weekday `d`, if it is: a holiday's or a special
/// closure's name. None on trading days and on weekends.
pub fn closure_reason(d: NaiveDate) -> Option<&'static str> {
    if is_weekend(d) {
        return None;
    }
    SPECIAL_CLOSURES
        .iter()
        .find(|(day, _)| *day == d)
        .map(|(_, name)| *name)
        .or_else(|| {
            holidays(d.year())
                .into_iter()
                .find(|(day, _)| *day == d)
                .map(|(_, name)| name)
        })
}

/// Does the exchange trade on `d`?
pub fn is_trading_day(d: NaiveDate) -> bool {
    !is_weekend(d) && closure_reason(d).is_none()
}

/// Does trading day `d` close at 13:00? (False on days the exchange is closed.)
pub fn is_early_close(d: NaiveDate) -> bool {
    if !is_trading_day(d) {
        return false;
    }
    let mon_to_thu = !matches!(d.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun);
    let day_after_thanksgiving = nth_weekday(d.year(), 11, Weekday::Thu, 4) + Days::new(1);
    (d.month() == 7 && d.day() == 3 && mon_to_thu)
        || d == day_after_thanksgiving
        || (d.month() == 12 && d.day() == 24 && mon_to_thu)
}

/// The regular session of `d`, None when the exchange does not trade that day.
pub fn session(d: NaiveDate) -> Option<Session> {
    if !is_trading_day(d) {
        return None;
    }
    let early_close = is_early_close(d);
    let close = if early_close {
        EARLY_CLOSE_TIME
    } else {
        CLOSE_TIME
    };
    Some(Session {
        date: d,
        open: new_york_instant(d, OPEN_TIME),
        close: new_york_instant(d, close),
        early_close,
    })
}

/// Is the regular session under way at `t` (open included, close excluded)?
pub fn is_open(t: DateTime<Utc>) -> bool {
    session(new_york_date(t)).is_some_and(|s| s.open <= t && t < s.close)
}

/// The first trading day after `d`.
pub fn next_trading_day(d: NaiveDate) -> NaiveDate {
    let mut n = d + Days::new(1);
    while !is_trading_day(n) {
        n = n + Days::new(1);
    }
    n
}

/// The last trading day before `d`.
pub fn previous_trading_day(d: NaiveDate) -> NaiveDate {
    let mut p = d - Days::new(1);
    while !is_trading_day(p) {
        p = p - Days::new(1);
    }
    p
}

/// The number of trading days `t` with `from < t <= to`; negative (the count of
/// `to < t <= from`) when `to` is before `from`. So `next_trading_day(d)` is 1 day after
/// `d`, and `trading_days_between(d, add_trading_days(d, n)) == n`.
pub fn trading_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    if to < from {
        return -trading_days_between(to, from);
    }
    let mut count = 0;
    let mut d = from;
    while d < to {
        d = d + Days::new(1);
        if is_trading_day(d) {
            count += 1;
        }
    }
    count
}

/// The `n`-th trading day after `d` (before it when `n` is negative); `d` itself when
/// `n` is 0, trading day or not.
pub fn add_trading_days(d: NaiveDate, n: i64) -> NaiveDate {
    let mut out = d;
    for _ in 0..n.unsigned_abs() {
        out = if n > 0 {
            next_trading_day(out)
        } else {
            previous_trading_day(out)
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn nyse_easter_by_the_computus() {
        let known = [
            (1961, "1961-04-02"),
            (2000, "2000-04-23"),
            (2008, "2008-03-23"),
            (2011, "2011-04-24"),
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2038, "2038-04-25"),
        ];
        for (year, easter) in known {
            assert_eq!(easter_sunday(year), day(easter), "{year}");
        }
    }

    #[test]
    fn nyse_observance_moves_weekend_holidays() {
        // Independence Day 2015 on a Saturday: Friday July 3 closed.
        assert_eq!(closure_reason(day("2015-07-03")), Some("Independence Day"));
        // Christmas 2016 on a Sunday: Monday December 26 closed.
        assert!(!is_trading_day(day("2016-12-26")));
        // Juneteenth 2022 on a Sunday: Monday June 20; none before 2022.
        assert!(!is_trading_day(day("2022-06-20")));
        assert!(is_trading_day(day("2021-06-18")));
    }

    #[test]
    fn nyse_new_year_on_a_saturday_is_not_observed_on_friday() {
        assert_eq!(day("2022-01-01").weekday(), Weekday::Sat);
        assert!(is_trading_day(day("2021-12-31")));
        assert!(is_trading_day(day("2022-01-03")));
        // On a Sunday it moves to Monday.
        assert!(!is_trading_day(day("2017-01-02")));
    }

    #[test]
    fn nyse_special_closures_and_weekends() {
        assert_eq!(
            closure_reason(day("2012-10-30")),
            Some("Hurricane Sandy"),
            "a Tuesday"
        );
        assert!(!is_trading_day(day("2025-01-09")));
        assert!(!is_trading_day(day("2021-01-02")));
        assert_eq!(
            closure_reason(day("2021-01-02")),
            None,
            "weekends give no reason"
        );
    }

    #[test]
    fn nyse_early_closes() {
        for d in ["2019-07-03", "2020-11-27", "2024-12-24", "2023-07-03"] {
            assert!(is_early_close(day(d)), "{d}");
        }
        // July 3 on a Friday (2020) is the observed holiday, not an early close; July 2
        // stays a full day. December 24 on a Friday (2021) is the observed Christmas.
        for d in [
            "2020-07-03",
            "2020-07-02",
            "2021-12-24",
            "2021-12-23",
            "2016-12-23",
        ] {
            assert!(!is_early_close(day(d)), "{d}");
        }
        let s = session(day("2019-12-24")).unwrap();
        assert!(s.early_close);
        assert_eq!(s.close, at("2019-12-24T18:00:00Z"));
    }

    #[test]
    fn nyse_sessions_follow_daylight_saving_time() {
        // DST began 2021-03-14: Friday opens 14:30 UTC, Monday 13:30 UTC.
        let fri = session(day("2021-03-12")).unwrap();
        let mon = session(day("2021-03-15")).unwrap();
        assert_eq!(
            (fri.open, fri.close),
            (at("2021-03-12T14:30:00Z"), at("2021-03-12T21:00:00Z"))
        );
        assert_eq!(
            (mon.open, mon.close),
            (at("2021-03-15T13:30:00Z"), at("2021-03-15T20:00:00Z"))
        );
        // DST ended 2021-11-07.
        assert_eq!(
            session(day("2021-11-08")).unwrap().open,
            at("2021-11-08T14:30:00Z")
        );
        assert!(session(day("2021-03-13")).is_none());
    }

    #[test]
    fn nyse_is_open_at_the_boundaries() {
        // Summer (EDT, UTC−4).
        assert!(!is_open(at("2021-07-01T13:29:59Z")));
        assert!(is_open(at("2021-07-01T13:30:00Z")));
        assert!(is_open(at("2021-07-01T19:59:59Z")));
        assert!(!is_open(at("2021-07-01T20:00:00Z")));
        // Winter (EST, UTC−5): 13:45 UTC is 08:45 New York.
        assert!(!is_open(at("2021-01-04T13:45:00Z")));
        assert!(is_open(at("2021-01-04T14:30:00Z")));
        assert!(!is_open(at("2021-01-04T21:00:00Z")));
        // The Monday after the spring change opens an hour earlier in UTC.
        assert!(is_open(at("2021-03-15T13:30:00Z")));
        assert!(!is_open(at("2021-03-12T13:30:00Z")));
        // Early close and holiday.
        assert!(is_open(at("2020-11-27T17:59:00Z")));
        assert!(!is_open(at("2020-11-27T18:00:00Z")));
        assert!(!is_open(at("2020-11-26T16:00:00Z")));
    }

    #[test]
    fn nyse_trading_day_arithmetic_skips_holidays() {
        // Good Friday 2021-04-02.
        assert_eq!(next_trading_day(day("2021-04-01")), day("2021-04-05"));
        assert_eq!(previous_trading_day(day("2021-04-05")), day("2021-04-01"));
        assert_eq!(
            trading_days_between(day("2021-04-01"), day("2021-04-05")),
            1
        );
        assert_eq!(
            trading_days_between(day("2021-04-05"), day("2021-04-01")),
            -1
        );
        assert_eq!(
            trading_days_between(day("2021-04-01"), day("2021-04-01")),
            0
        );
        assert_eq!(add_trading_days(day("2021-04-01"), 1), day("2021-04-05"));
        assert_eq!(add_trading_days(day("2021-04-05"), -1), day("2021-04-01"));
        assert_eq!(add_trading_days(day("2021-04-03"), 0), day("2021-04-03"));
        // From a holiday: the first trading day after it is 1.
        assert_eq!(add_trading_days(day("2021-04-02"), 1), day("2021-04-05"));
        // 2021 had 252 trading days.
        assert_eq!(
            trading_days_between(day("2020-12-31"), day("2021-12-31")),
            252
        );
        for n in -30..30 {
            let d = day("2021-11-24");
            assert_eq!(trading_days_between(d, add_trading_days(d, n)), n);
        }
    }
}
