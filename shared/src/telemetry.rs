//! Logging through `tracing`, shaped for Lambda.
//!
//! - Format: JSON when `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's advanced logging
//!   controls), human-readable text otherwise.
//! - Level: `AWS_LAMBDA_LOG_LEVEL` first (set by Lambda from the function's logging
//!   config), then `RUST_LOG`, then `info`.

use tracing_subscriber::EnvFilter;

/// How to log, decided from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub filter: String,
}

impl LogSettings {
    pub fn from_env(env: &dyn crate::config::EnvSource) -> Self {
        let json = env
            .get("AWS_LAMBDA_LOG_FORMAT")
            .is_some_and(|f| f.eq_ignore_ascii_case("json"));
        let filter = env
            .get("AWS_LAMBDA_LOG_LEVEL")
            .map(|l| l.to_ascii_lowercase())
            .or_else(|| env.get("RUST_LOG"))
            .unwrap_or_else(|| "info".to_string());
        Self { json, filter }
    }
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    init_with(LogSettings::from_env(&crate::config::ProcessEnv));
}

pub fn init_with(settings: LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if settings.json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
    // A second init (tests, or a CLI that calls a job) keeps the first subscriber.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_level_wins_over_rust_log() {
        let env = [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "warn"),
        ];
        assert_eq!(
            LogSettings::from_env(&env),
            LogSettings {
                json: true,
                filter: "debug".into()
            }
        );
    }

    #[test]
    fn rust_log_then_info() {
        let env = [("RUST_LOG", "shared=trace")];
        let s = LogSettings::from_env(&env);
        assert!(!s.json);
        assert_eq!(s.filter, "shared=trace");
        let none: [(&str, &str); 0] = [];
        assert_eq!(LogSettings::from_env(&none).filter, "info");
    }
}
