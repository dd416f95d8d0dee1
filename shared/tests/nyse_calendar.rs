//! The NYSE calendar against the exchange's real closed days and early closes,
//! 2014–2026, and against SPY's trading days 2014–2021
//! (`fixtures/spy_trading_days_2014_2021.txt`, source line in the file).

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use shared::core::nyse::{
    closure_reason, holidays, is_early_close, is_open, is_trading_day, session,
};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn weekdays(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days()
        .take_while(move |d| *d <= to)
        .filter(|d| d.weekday().num_days_from_monday() < 5)
}

/// Every weekday the NYSE was (or is scheduled to be) closed, 2014–2026, from the
/// exchange's published holiday schedules and its closure announcements.
const CLOSED: &[&str] = &[
    // 2014
    "2014-01-01",
    "2014-01-20",
    "2014-02-17",
    "2014-04-18",
    "2014-05-26",
    "2014-07-04",
    "2014-09-01",
    "2014-11-27",
    "2014-12-25",
    // 2015: Independence Day on a Saturday → Friday July 3.
    "2015-01-01",
    "2015-01-19",
    "2015-02-16",
    "2015-04-03",
    "2015-05-25",
    "2015-07-03",
    "2015-09-07",
    "2015-11-26",
    "2015-12-25",
    // 2016: Christmas on a Sunday → Monday December 26.
    "2016-01-01",
    "2016-01-18",
    "2016-02-15",
    "2016-03-25",
    "2016-05-30",
    "2016-07-04",
    "2016-09-05",
    "2016-11-24",
    "2016-12-26",
    // 2017: New Year's Day on a Sunday → Monday January 2.
    "2017-01-02",
    "2017-01-16",
    "2017-02-20",
    "2017-04-14",
    "2017-05-29",
    "2017-07-04",
    "2017-09-04",
    "2017-11-23",
    "2017-12-25",
    // 2018: President George H. W. Bush's day of mourning, December 5.
    "2018-01-01",
    "2018-01-15",
    "2018-02-19",
    "2018-03-30",
    "2018-05-28",
    "2018-07-04",
    "2018-09-03",
    "2018-11-22",
    "2018-12-05",
    "2018-12-25",
    // 2019
    "2019-01-01",
    "2019-01-21",
    "2019-02-18",
    "2019-04-19",
    "2019-05-27",
    "2019-07-04",
    "2019-09-02",
    "2019-11-28",
    "2019-12-25",
    // 2020: Independence Day on a Saturday → Friday July 3.
    "2020-01-01",
    "2020-01-20",
    "2020-02-17",
    "2020-04-10",
    "2020-05-25",
    "2020-07-03",
    "2020-09-07",
    "2020-11-26",
    "2020-12-25",
    // 2021: Independence Day on a Sunday → Monday July 5; Christmas on a Saturday →
    // Friday December 24; New Year's Day 2022 on a Saturday is not observed on Dec 31.
    "2021-01-01",
    "2021-01-18",
    "2021-02-15",
    "2021-04-02",
    "2021-05-31",
    "2021-07-05",
    "2021-09-06",
    "2021-11-25",
    "2021-12-24",
    // 2022: Juneteenth (new) on a Sunday → Monday June 20; Christmas on a Sunday.
    "2022-01-17",
    "2022-02-21",
    "2022-04-15",
    "2022-05-30",
    "2022-06-20",
    "2022-07-04",
    "2022-09-05",
    "2022-11-24",
    "2022-12-26",
    // 2023: New Year's Day on a Sunday → Monday January 2.
    "2023-01-02",
    "2023-01-16",
    "2023-02-20",
    "2023-04-07",
    "2023-05-29",
    "2023-06-19",
    "2023-07-04",
    "2023-09-04",
    "2023-11-23",
    "2023-12-25",
    // 2024
    "2024-01-01",
    "2024-01-15",
    "2024-02-19",
    "2024-03-29",
    "2024-05-27",
    "2024-06-19",
    "2024-07-04",
    "2024-09-02",
    "2024-11-28",
    "2024-12-25",
    // 2025: President Carter's day of mourning, January 9.
    "2025-01-01",
    "2025-01-09",
    "2025-01-20",
    "2025-02-17",
    "2025-04-18",
    "2025-05-26",
    "2025-06-19",
    "2025-07-04",
    "2025-09-01",
    "2025-11-27",
    "2025-12-25",
    // 2026: Independence Day on a Saturday → Friday July 3.
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-04-03",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-09-07",
    "2026-11-26",
    "2026-12-25",
];

/// Every 13:00 early close, 2014–2026.
const EARLY_CLOSES: &[&str] = &[
    "2014-07-03",
    "2014-11-28",
    "2014-12-24",
    "2015-11-27",
    "2015-12-24",
    "2016-11-25",
    "2017-07-03",
    "2017-11-24",
    "2018-07-03",
    "2018-11-23",
    "2018-12-24",
    "2019-07-03",
    "2019-11-29",
    "2019-12-24",
    "2020-11-27",
    "2020-12-24",
    "2021-11-26",
    "2022-11-25",
    "2023-07-03",
    "2023-11-24",
    "2024-07-03",
    "2024-11-29",
    "2024-12-24",
    "2025-07-03",
    "2025-11-28",
    "2025-12-24",
    "2026-11-27",
    "2026-12-24",
];

#[test]
fn every_weekday_2014_2026_is_closed_exactly_on_the_real_closed_days() {
    let closed: BTreeSet<NaiveDate> = CLOSED.iter().map(|d| day(d)).collect();
    assert_eq!(closed.len(), CLOSED.len(), "no duplicates in the list");
    let mut wrong = Vec::new();
    for d in weekdays(day("2014-01-01"), day("2026-12-31")) {
        if is_trading_day(d) == closed.contains(&d) {
            wrong.push((d, closure_reason(d)));
        }
    }
    assert!(
        wrong.is_empty(),
        "disagree with the real calendar: {wrong:?}"
    );
}

#[test]
fn the_holiday_rules_give_the_scheduled_holidays_of_each_year() {
    // The list less the special closures is exactly what `holidays` derives.
    let specials = [day("2018-12-05"), day("2025-01-09")];
    for year in 2014..=2026 {
        let expected: Vec<NaiveDate> = CLOSED
            .iter()
            .map(|d| day(d))
            .filter(|d| d.year() == year && !specials.contains(d))
            .collect();
        let derived: Vec<NaiveDate> = holidays(year).into_iter().map(|(d, _)| d).collect();
        assert_eq!(derived, expected, "{year}");
    }
    assert_eq!(
        closure_reason(day("2018-12-05")),
        Some("Day of mourning: President George H. W. Bush")
    );
    assert_eq!(closure_reason(day("2023-06-19")), Some("Juneteenth"));
    assert_eq!(closure_reason(day("2024-03-29")), Some("Good Friday"));
}

#[test]
fn early_closes_2014_2026_are_the_real_ones() {
    let early: BTreeSet<NaiveDate> = EARLY_CLOSES.iter().map(|d| day(d)).collect();
    let found: BTreeSet<NaiveDate> = weekdays(day("2014-01-01"), day("2026-12-31"))
        .filter(|d| is_early_close(*d))
        .collect();
    assert_eq!(found, early);
    for d in &early {
        let s = session(*d).unwrap();
        assert!(s.early_close);
        // 13:00 New York: 18:00 UTC in winter (Nov, Dec), 17:00 UTC in July.
        let hour = if d.month() == 7 { 17 } else { 18 };
        assert_eq!(s.close, d.and_hms_opt(hour, 0, 0).unwrap().and_utc(), "{d}");
    }
}

#[test]
fn the_calendar_agrees_with_spy_trading_days_2014_2021() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spy_trading_days_2014_2021.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let traded: BTreeSet<NaiveDate> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| day(l.trim()))
        .collect();
    assert_eq!(traded.len(), 2015, "the fixture's trading days");
    let (first, last) = (*traded.first().unwrap(), *traded.last().unwrap());
    assert_eq!((first, last), (day("2014-01-02"), day("2021-12-31")));
    let mut wrong = Vec::new();
    for d in weekdays(first, last) {
        if is_trading_day(d) != traded.contains(&d) {
            wrong.push(d);
        }
    }
    assert!(wrong.is_empty(), "calendar and SPY disagree on {wrong:?}");
    // And no SPY bar falls on a weekend.
    assert!(traded
        .iter()
        .all(|d| d.weekday().num_days_from_monday() < 5));
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn is_open_follows_daylight_saving_time_every_year() {
    // On each side of each change the session is 09:30–16:00 New York: 14:30–21:00 UTC
    // in standard time, 13:30–20:00 UTC in daylight time.
    for year in 2014..=2026 {
        // DST starts on the 2nd Sunday of March, ends on the 1st Sunday of November.
        let spring =
            NaiveDate::from_weekday_of_month_opt(year, 3, chrono::Weekday::Sun, 2).unwrap();
        let autumn =
            NaiveDate::from_weekday_of_month_opt(year, 11, chrono::Weekday::Sun, 1).unwrap();
        let before_spring = spring - Days::new(2); // Friday, EST
        let after_spring = spring + Days::new(1); // Monday, EDT
        let before_autumn = autumn - Days::new(2); // Friday, EDT
        let after_autumn = autumn + Days::new(1); // Monday, EST
        for (d, open_hour) in [
            (before_spring, 14),
            (after_spring, 13),
            (before_autumn, 13),
            (after_autumn, 14),
        ] {
            let utc = |h: u32, m: u32| d.and_hms_opt(h, m, 0).unwrap().and_utc();
            assert!(!is_open(utc(open_hour, 29)), "{d} before the open");
            assert!(is_open(utc(open_hour, 30)), "{d} at the open");
            assert!(is_open(utc(open_hour + 6, 59)), "{d} before the close");
            assert!(!is_open(utc(open_hour + 7, 0)), "{d} at the close");
        }
        // The change weekend itself is closed.
        assert!(!is_open(spring.and_hms_opt(15, 0, 0).unwrap().and_utc()));
    }
    // Late evening UTC is still the New York day before: 2021-03-15 01:30 UTC is Sunday.
    assert!(!is_open(at("2021-03-15T01:30:00Z")));
}
