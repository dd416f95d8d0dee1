//! API keys of the query API (`migrations/V14__query_api.sql`, docs/api.md).
//!
//! A key is 32 random bytes, shown once as `tft_<64 hex>`; only its SHA-256 is stored.
//! [`authenticate`] finds the key by its hash, checks it in constant time, and in the same
//! statement records its last use and counts the request in the key's one-minute window
//! (HTTP APIs have no usage plans: the app counts).

use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};

const PREFIX: &str = "tft_";

/// A key as `tft api-keys list` shows it (never the key itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Who a request's key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: i64,
    pub name: String,
    pub admin: bool,
    /// Requests in the current one-minute window, this one included.
    pub requests_this_minute: i32,
}

/// Why a key is not accepted (all answered 401, the reason logged, never the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    Unknown,
    Revoked,
    Expired,
}

/// A new random key, `tft_` + 64 hex digits.
pub fn generate() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{PREFIX}{}", hex(&bytes)))
}

/// SHA-256 of the key's text.
pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.trim().as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Stores a new key; returns its id and the key (print it once).
#[tracing::instrument(skip(client))]
pub async fn create(
    client: &impl GenericClient,
    name: &str,
    admin: bool,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(i64, SecretString), DbError> {
    let key = generate();
    let digest = hash(key.expose_secret()).to_vec();
    let row = client
        .query_typed(
            "INSERT INTO api_keys (name, key_hash, admin, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                (&name, Type::VARCHAR),
                (&digest, Type::BYTEA),
                (&admin, Type::BOOL),
                (&expires_at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("create an API key")?;
    Ok((row[0].get(0), key))
}

/// Every key, newest first.
pub async fn list(client: &impl GenericClient) -> Result<Vec<ApiKeyInfo>, DbError> {
    let rows = client
        .query_typed(
            "SELECT id, name::text, admin, created_at, expires_at, revoked_at, last_used_at \
             FROM api_keys ORDER BY created_at DESC, id DESC",
            &[],
        )
        .await
        .context("list the API keys")?;
    Ok(rows
        .iter()
        .map(|r| ApiKeyInfo {
            id: r.get(0),
            name: r.get(1),
            admin: r.get(2),
            created_at: r.get(3),
            expires_at: r.get(4),
            revoked_at: r.get(5),
            last_used_at: r.get(6),
        })
        .collect())
}

/// Revokes the active key named `name`; `false` when there is none.
pub async fn revoke(client: &impl GenericClient, name: &str) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id",
            &[(&name, Type::VARCHAR)],
        )
        .await
        .context("revoke an API key")?;
    Ok(!rows.is_empty())
}

/// The caller of `key`, counting this request in its one-minute window and recording
/// its last use; a revoked or expired key counts nothing.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    client: &impl GenericClient,
    key: &str,
) -> Result<Result<Caller, KeyRejection>, DbError> {
    let digest = hash(key).to_vec();
    let rows = client
        .query_typed(
            "UPDATE api_keys SET last_used_at = now(), \
                 window_start = CASE WHEN window_start IS NULL OR window_start < now() - interval '1 minute' \
                                     THEN now() ELSE window_start END, \
                 window_count = CASE WHEN window_start IS NULL OR window_start < now() - interval '1 minute' \
                                     THEN 1 ELSE window_count + 1 END \
             WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) \
             RETURNING id, name::text, admin, window_count, key_hash",
            &[(&digest, Type::BYTEA)],
        )
        .await
        .context("authenticate an API key")?;
    if let Some(r) = rows.first() {
        let stored: Vec<u8> = r.get(4);
        if constant_time_eq(&stored, &digest) {
            return Ok(Ok(Caller {
                key_id: r.get(0),
                name: r.get(1),
                admin: r.get(2),
                requests_this_minute: r.get(3),
            }));
        }
    }
    // Not usable: say why (for the log; the answer is 401 either way).
    let rows = client
        .query_typed(
            "SELECT revoked_at IS NOT NULL, expires_at IS NOT NULL AND expires_at <= now() \
             FROM api_keys WHERE key_hash = $1",
            &[(&digest, Type::BYTEA)],
        )
        .await
        .context("read an API key")?;
    Ok(Err(match rows.first() {
        None => KeyRejection::Unknown,
        Some(r) if r.get::<_, bool>(0) => KeyRejection::Revoked,
        Some(_) => KeyRejection::Expired,
    }))
}

/// Records an admin request that changed something.
pub async fn audit(
    client: &impl GenericClient,
    key_name: &str,
    action: &str,
    detail: &serde_json::Value,
) -> Result<(), DbError> {
    let detail = detail.to_string();
    client
        .query_typed(
            "INSERT INTO admin_actions (key_name, action, detail) VALUES ($1, $2, $3::jsonb)",
            &[
                (&key_name, Type::VARCHAR),
                (&action, Type::VARCHAR),
                (&detail, Type::TEXT),
            ],
        )
        .await
        .context("record an admin action")?;
    Ok(())
}

/// Whether new entries are paused, and by whom.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradingControl {
    pub entries_paused: bool,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<String>,
    pub reason: Option<String>,
}

/// The pause flag (`trading_control`, one row).
pub async fn trading_control(client: &impl GenericClient) -> Result<TradingControl, DbError> {
    let rows = client
        .query_typed(
            "SELECT entries_paused, changed_at, changed_by::text, reason FROM trading_control WHERE id = 1",
            &[],
        )
        .await
        .context("read the trading control")?;
    Ok(match rows.first() {
        Some(r) => TradingControl {
            entries_paused: r.get(0),
            changed_at: r.get(1),
            changed_by: r.get(2),
            reason: r.get(3),
        },
        None => TradingControl {
            entries_paused: false,
            changed_at: Utc::now(),
            changed_by: None,
            reason: None,
        },
    })
}

/// Pauses or resumes new entries; returns the control after the change.
pub async fn set_entries_paused(
    client: &impl GenericClient,
    paused: bool,
    by: &str,
    reason: Option<&str>,
) -> Result<TradingControl, DbError> {
    client
        .query_typed(
            "INSERT INTO trading_control (id, entries_paused, changed_at, changed_by, reason) \
             VALUES (1, $1, now(), $2, $3) \
             ON CONFLICT (id) DO UPDATE SET entries_paused = $1, changed_at = now(), changed_by = $2, reason = $3",
            &[(&paused, Type::BOOL), (&by, Type::VARCHAR), (&reason, Type::TEXT)],
        )
        .await
        .context("set the trading control")?;
    trading_control(client).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = generate();
        let b = generate();
        assert!(a.expose_secret().starts_with("tft_"));
        assert_eq!(a.expose_secret().len(), 4 + 64);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(
            hash(a.expose_secret()),
            hash(&format!(" {} ", a.expose_secret()))
        );
        assert_ne!(hash(a.expose_secret()), hash(b.expose_secret()));
        assert!(constant_time_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!constant_time_eq(&[1, 2, 3], &[1, 2, 4]));
        assert!(!constant_time_eq(&[1, 2], &[1, 2, 3]));
        // The secret never prints.
        assert!(!format!("{a:?}").contains(a.expose_secret()));
    }
}
