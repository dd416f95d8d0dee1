//! Trading-day arithmetic in the exchange's time zone (America/New_York).
//!
//! The full NYSE calendar (holidays, early closes) arrives with the position monitor;
//! the price job only needs "which trading date does this moment belong to".

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::America::New_York;

/// The calendar date in New York at instant `t`.
pub fn new_york_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&New_York).date_naive()
}

/// Saturday and Sunday are never trading days.
pub fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The instant of `time` New York wall-clock time on day `d` (the earlier one in the
/// repeated hour of a DST change; a time skipped by DST moves an hour forward).
pub fn new_york_instant(d: NaiveDate, time: chrono::NaiveTime) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = d.and_time(time);
    match New_York.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => New_York
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| local.and_utc()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evening_utc_is_still_the_new_york_day_before_midnight() {
        // 2021-03-15 01:30 UTC is 2021-03-14 21:30 EDT (DST started that Sunday).
        let t = DateTime::parse_from_rfc3339("2021-03-15T01:30:00Z").unwrap();
        assert_eq!(
            new_york_date(t.with_timezone(&Utc)),
            NaiveDate::from_ymd_opt(2021, 3, 14).unwrap()
        );
        let t = DateTime::parse_from_rfc3339("2021-01-05T04:59:00Z").unwrap();
        assert_eq!(
            new_york_date(t.with_timezone(&Utc)),
            NaiveDate::from_ymd_opt(2021, 1, 4).unwrap()
        );
    }

    #[test]
    fn new_york_instants_follow_dst() {
        let t = chrono::NaiveTime::from_hms_opt(16, 30, 0).unwrap();
        let winter = new_york_instant(NaiveDate::from_ymd_opt(2021, 1, 4).unwrap(), t);
        let summer = new_york_instant(NaiveDate::from_ymd_opt(2021, 7, 1).unwrap(), t);
        assert_eq!(winter.to_rfc3339(), "2021-01-04T21:30:00+00:00");
        assert_eq!(summer.to_rfc3339(), "2021-07-01T20:30:00+00:00");
    }

    #[test]
    fn weekends() {
        assert!(is_weekend(NaiveDate::from_ymd_opt(2021, 1, 2).unwrap()));
        assert!(!is_weekend(NaiveDate::from_ymd_opt(2021, 1, 4).unwrap()));
    }
}
