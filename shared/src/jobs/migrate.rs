//! `Custom::Migrations` (the deploy function, issue 13): the refinery migrations `tft
//! migrate` applies, run by CloudFormation on every deploy whose code changed, with the
//! direct (not pooled) database URL.
//!
//! Create and Update apply what the database has not seen (idempotent: a second run
//! applies nothing and succeeds); Delete does nothing (removing the stack never drops the
//! schema). A failing migration answers FAILED with which one and the database's error,
//! never the URL or its password; the migrations before it stay applied (each runs in its
//! own transaction), the failing one is rolled back, and the stack rolls back its other
//! changes.

use secrecy::ExposeSecret;

use crate::adapters::db;
use crate::config::DatabaseConfig;
use crate::jobs::custom_resource::{Outcome, Request, RequestType};

/// The resource type in the template.
pub const RESOURCE_TYPE: &str = "Custom::Migrations";

/// Handles one request. `database` is the direct URL's configuration, or why it could
/// not be read at init (answered as the failure).
pub async fn handle(
    request: &Request,
    database: Result<&DatabaseConfig, &str>,
) -> Result<Outcome, String> {
    if request.request_type == RequestType::Delete {
        return Ok(Outcome::default().with("Action", "none"));
    }
    let database = database.map_err(|e| format!("migrations not run: {e}"))?;
    let latest = db::latest_migration().unwrap_or_default();
    match db::migrate(database).await {
        Ok(applied) => {
            tracing::info!(?applied, %latest, "migrations applied");
            Ok(Outcome::default()
                .with(
                    "Action",
                    if applied.is_empty() {
                        "none"
                    } else {
                        "applied"
                    },
                )
                .with("AppliedCount", applied.len().to_string())
                .with("Applied", applied.join(","))
                .with("Latest", latest))
        }
        Err(e @ db::DbError::Migration(_)) => Err(redact(
            &format!(
                "{}; the migrations before the failing one stay applied and it was rolled \
                 back: fix it and deploy again, or run `tft migrate` with the direct URL \
                 (docs/operations.md)",
                db::error_text(&e)
            ),
            database,
        )),
        Err(e) => Err(redact(
            &format!("migrations not run: {}", db::error_text(&e)),
            database,
        )),
    }
}

/// `text` without the database URL or its password (an error of the driver never holds
/// them today; this keeps it so if one ever quotes them).
pub fn redact(text: &str, database: &DatabaseConfig) -> String {
    let url = database.url.expose_secret();
    let mut out = text.replace(url, "<database url>");
    if let Ok(config) = db::parse_url(&database.url, true) {
        if let Some(password) = config.get_password() {
            let password = String::from_utf8_lossy(password);
            if password.len() >= 3 {
                out = out.replace(password.as_ref(), "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_and_the_password_are_redacted() {
        let db = DatabaseConfig::new("postgres://trader:s3cr3t-pw@db.example/tft".to_string());
        let text = "failed on postgres://trader:s3cr3t-pw@db.example/tft, password s3cr3t-pw";
        let out = redact(text, &db);
        assert!(!out.contains("s3cr3t-pw"), "{out}");
        assert!(out.contains("<database url>"), "{out}");
    }
}
