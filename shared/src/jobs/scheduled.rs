//! What a scheduled invocation carries.
//!
//! The SAM template gives each EventBridge Scheduler target an input shaped like an
//! EventBridge event (`time` = `<aws.scheduler.scheduled-time>`), so the functions
//! accept the same JSON from a classic EventBridge rule, from the scheduler, from a
//! chained `*.updated` event, or from `tft run` by hand. `detail` may pin the trading
//! date and (for manual runs) the tickers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::core::calendar::new_york_date;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventError {
    #[error("the event has neither detail.trading_date nor a parseable `time`: {0}")]
    NoDate(String),
    #[error("the event's detail is malformed: {0}")]
    BadDetail(String),
    #[error("the event's `time` is not an RFC 3339 time: {0}")]
    BadTime(String),
}

/// Symbols a manual run may name at most.
const MAX_TICKERS: usize = 1_000;

#[derive(Debug, Default, Deserialize)]
struct Detail {
    trading_date: Option<NaiveDate>,
    tickers: Option<Vec<String>>,
}

/// The parts of an invocation event the daily jobs use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRun {
    /// The trading day the run is for: `detail.trading_date`, else the New York date of
    /// the event `time` (16:30 ET on a weekday is that weekday).
    pub trading_date: NaiveDate,
    /// Tickers named by a manual run; `None` means the configured universe.
    pub tickers: Option<Vec<String>>,
}

/// The event's `time` (the scheduled time for a scheduler input): `None` when it has
/// none (a hand-made invocation: the caller uses now and logs it), an error when it has
/// one that is not an RFC 3339 time (the scheduler's placeholder left unsubstituted, a
/// number): never silently "now".
pub fn event_time(event: &serde_json::Value) -> Result<Option<DateTime<Utc>>, EventError> {
    match event.get("time") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(time)) => DateTime::parse_from_rfc3339(time)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| EventError::BadTime(format!("{time:?}: {e}"))),
        Some(other) => Err(EventError::BadTime(format!("{other} is not a string"))),
    }
}

/// [`event_time`], or `now` (logged) when the event has no time.
pub fn event_time_or_now(
    event: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, EventError> {
    Ok(event_time(event)?.unwrap_or_else(|| {
        tracing::info!(%now, "the event has no `time`: running as of now");
        now
    }))
}

/// `detail.tickers` in their stored spelling; an empty list, a non-symbol or more than
/// [`MAX_TICKERS`] is an error.
fn checked_tickers(raw: Vec<String>) -> Result<Vec<String>, EventError> {
    if raw.is_empty() || raw.len() > MAX_TICKERS {
        return Err(EventError::BadDetail(format!(
            "detail.tickers must name 1 to {MAX_TICKERS} symbols, got {}",
            raw.len()
        )));
    }
    raw.iter()
        .map(|t| {
            crate::core::tickers::storage_spelling(t.trim()).ok_or_else(|| {
                EventError::BadDetail(format!("detail.tickers: {t:?} is not a ticker symbol"))
            })
        })
        .collect()
}

impl DailyRun {
    pub fn from_event(event: &serde_json::Value) -> Result<Self, EventError> {
        let detail: Detail = match event.get("detail") {
            None | Some(serde_json::Value::Null) => Detail::default(),
            Some(d) => serde_json::from_value(d.clone())
                .map_err(|e| EventError::BadDetail(e.to_string()))?,
        };
        let trading_date = match detail.trading_date {
            Some(d) => d,
            None => {
                let time = event.get("time").and_then(|t| t.as_str()).unwrap_or("");
                let parsed = DateTime::parse_from_rfc3339(time)
                    .map_err(|e| EventError::NoDate(format!("time {time:?}: {e}")))?;
                new_york_date(parsed.with_timezone(&Utc))
            }
        };
        Ok(Self {
            trading_date,
            tickers: detail.tickers.map(checked_tickers).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_time_is_read_in_new_york() {
        // 16:30 EST on Monday 2021-01-04 is 21:30 UTC.
        let event =
            json!({"detail-type": "Scheduled Event", "time": "2021-01-04T21:30:00Z", "detail": {}});
        let run = DailyRun::from_event(&event).unwrap();
        assert_eq!(
            run.trading_date,
            NaiveDate::from_ymd_opt(2021, 1, 4).unwrap()
        );
        assert_eq!(run.tickers, None);
    }

    #[test]
    fn detail_pins_date_and_tickers() {
        let event = json!({"time": "2021-01-05T21:30:00Z",
            "detail": {"trading_date": "2020-12-31", "tickers": ["AAPL"]}});
        let run = DailyRun::from_event(&event).unwrap();
        assert_eq!(
            run.trading_date,
            NaiveDate::from_ymd_opt(2020, 12, 31).unwrap()
        );
        assert_eq!(run.tickers.as_deref(), Some(&["AAPL".to_string()][..]));
    }

    #[test]
    fn event_time_reads_the_scheduled_time() {
        let event = json!({"time": "2021-01-04T15:25:00Z"});
        assert_eq!(
            event_time(&event).unwrap().unwrap().to_rfc3339(),
            "2021-01-04T15:25:00+00:00"
        );
    }

    /// Issue 11, defect 8: a missing `time` may mean "now" (the caller logs it); a garbled
    /// one (the scheduler's placeholder left unsubstituted, a number, a bad date) is an
    /// error, never silently "now".
    #[test]
    fn a_garbled_event_time_is_an_error_and_a_missing_one_is_none() {
        assert_eq!(event_time(&json!({})), Ok(None));
        assert_eq!(event_time(&json!({"time": null})), Ok(None));
        for garbled in [
            json!({"time": "<aws.scheduler.scheduled-time>"}),
            json!({"time": 1609772700}),
            json!({"time": "2021-13-04T15:25:00Z"}),
            json!({"time": ""}),
        ] {
            assert!(
                matches!(event_time(&garbled), Err(EventError::BadTime(_))),
                "{garbled}"
            );
        }
    }

    /// Fault injection (issue 11): every function given a malformed event. The daily
    /// steps (scrape-prices, build-features, predict: `DailyRun`; generate-signals:
    /// `SignalsRequest`) refuse each with an error that names what is wrong; the 15-minute
    /// and hourly ones (monitor, scrape-reddit: `event_time_or_now`) refuse a garbled time
    /// and run as of now only when there is no time at all. notify reads no input.
    #[test]
    fn every_function_refuses_a_malformed_event() {
        use crate::jobs::generate_signals::SignalsRequest;
        let now: DateTime<Utc> = "2021-01-04T15:00:00Z".parse().unwrap();
        let malformed = [
            json!(null),
            json!([]),
            json!("predictions.ready"),
            json!({"detail": "2021-01-04"}),
            json!({"detail": {"trading_date": 20210104}}),
            json!({"detail": {"trading_date": "2021-02-30"}}),
            json!({"time": "yesterday"}),
            json!({"time": "2021-01-04T21:30:00Z", "detail": {"tickers": "AAPL"}}),
            json!({"time": "2021-01-04T21:30:00Z", "detail": {"tickers": ["AAPL", "<script>"]}}),
            json!({"time": "2021-01-04T21:30:00Z", "detail": {"model_version": 7}}),
        ];
        for event in &malformed {
            let daily = DailyRun::from_event(event);
            let signals = SignalsRequest::from_event(event);
            let model_only = event.pointer("/detail/model_version").is_some();
            assert!(daily.is_err() || model_only, "DailyRun accepted {event}");
            assert!(signals.is_err(), "SignalsRequest accepted {event}");
            let timed = event_time_or_now(event, now);
            match event.get("time") {
                Some(serde_json::Value::String(t)) if t.ends_with('Z') => {
                    assert!(timed.is_ok(), "{event}")
                }
                Some(_) => assert!(timed.is_err(), "a garbled time ran as now: {event}"),
                None => assert_eq!(timed, Ok(now), "{event}"),
            }
        }
    }

    /// Issue 11, defect 8: `detail.tickers` is checked: a list of ticker symbols, not
    /// empty, stored spelling (`brk.b` → `BRK-B`).
    #[test]
    fn detail_tickers_are_checked() {
        let with = |tickers: serde_json::Value| {
            DailyRun::from_event(
                &json!({"detail": {"trading_date": "2021-01-04", "tickers": tickers}}),
            )
        };
        assert_eq!(
            with(json!(["aapl", "brk.b"])).unwrap().tickers.unwrap(),
            ["AAPL", "BRK-B"]
        );
        for bad in [
            json!([]),
            json!(["AAPL", "rm -rf /"]),
            json!(["AAPL", ""]),
            json!(["TOOLONGTICKER1"]),
            json!("AAPL"),
            json!([1, 2]),
        ] {
            assert!(
                matches!(with(bad.clone()), Err(EventError::BadDetail(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_event_without_a_date_is_refused_clearly() {
        let err = DailyRun::from_event(&json!({"detail": {}})).unwrap_err();
        assert!(matches!(err, EventError::NoDate(_)));
        let err = DailyRun::from_event(&json!({"detail": {"trading_date": "Jan 4"}})).unwrap_err();
        assert!(matches!(err, EventError::BadDetail(_)));
    }
}
