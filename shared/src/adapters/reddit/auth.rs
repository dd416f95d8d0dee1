//! OAuth2 for a Reddit "script" app: the credentials, the token request body, and the
//! token answer. Pure: the request itself is in `client`.
//!
//! `POST {auth_url}/api/v1/access_token` with HTTP Basic `client_id:client_secret` and a
//! form body, either `grant_type=client_credentials` (application-only, read-only) or
//! `grant_type=password&username=...&password=...` (acts as that account; the account
//! must be a developer of the app). Recorded answer:
//!
//! ```text
//! 200 {"access_token": "<ACCESS_TOKEN>", "token_type": "bearer", "expires_in": 3600, "scope": "*"}
//! ```
//!
//! A wrong password is a `200 {"error": "invalid_grant"}`; a wrong client id or secret
//! a `401 {"message": "Unauthorized", "error": 401}`.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A Reddit app's credentials. The password grant is used when both `username` and
/// `password` are set, else the client-credentials grant. `Debug` hides the secrets.
#[derive(Clone)]
pub struct RedditCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

impl RedditCredentials {
    /// Application-only access (`grant_type=client_credentials`).
    pub fn client_credentials(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            username: None,
            password: None,
        }
    }

    /// Script-app access as `username` (`grant_type=password`).
    pub fn password(
        client_id: impl Into<String>,
        client_secret: SecretString,
        username: impl Into<String>,
        password: SecretString,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            username: Some(username.into()),
            password: Some(password),
        }
    }

    /// `"password"` or `"client_credentials"`.
    pub fn grant_type(&self) -> &'static str {
        match (&self.username, &self.password) {
            (Some(_), Some(_)) => "password",
            _ => "client_credentials",
        }
    }

    /// The `application/x-www-form-urlencoded` body of the token request.
    pub(super) fn token_form(&self) -> String {
        // url's form serializer (the one behind `Url::query_pairs_mut`) is the
        // x-www-form-urlencoded encoder; reqwest's own `form` feature is not enabled.
        let mut scratch = Url::parse("http://form.invalid/").expect("static URL");
        {
            let mut pairs = scratch.query_pairs_mut();
            pairs.append_pair("grant_type", self.grant_type());
            if let (Some(user), Some(password)) = (&self.username, &self.password) {
                pairs.append_pair("username", user);
                pairs.append_pair("password", password.expose_secret());
            }
        }
        scratch.query().unwrap_or_default().to_string()
    }
}

impl fmt::Debug for RedditCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedditCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A bearer token ready to send, and until when to use it.
#[derive(Clone)]
pub(super) struct AccessToken {
    /// `bearer <token>`, marked sensitive (hidden from `Debug` and HTTP/2 indexing).
    pub header: HeaderValue,
    /// `expires_in` minus the refresh margin, from when the answer arrived.
    pub use_until: Instant,
    /// Counts the tokens this client fetched: a 401 invalidates only the token that
    /// got it, not a newer one another task fetched meanwhile.
    pub generation: u64,
}

impl AccessToken {
    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.use_until
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("use_until", &self.use_until)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// A token is refreshed this long before Reddit's expiry (at most half its lifetime).
pub(super) const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How long a token that Reddit says lives `expires_in` may be used.
pub(super) fn usable_for(expires_in: Duration) -> Duration {
    expires_in.saturating_sub(REFRESH_MARGIN.min(expires_in / 2))
}

#[derive(Deserialize)]
struct TokenBody {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    scope: Option<String>,
    /// `"invalid_grant"`, or `401` on an error status.
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

/// A successful token answer.
#[derive(Debug, PartialEq)]
pub(super) struct Granted {
    pub token: String,
    pub expires_in: Duration,
    pub scope: String,
}

/// Why a 200 answer of the token endpoint holds no token.
#[derive(Debug, PartialEq)]
pub(super) enum TokenError {
    /// Reddit's `{"error": "invalid_grant"}`: the credentials are wrong.
    Refused(String),
    /// Not the JSON we know.
    Malformed(String),
}

/// When Reddit omits `expires_in` (it never has): an hour, its historical lifetime.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

pub(super) fn parse_token(body: &[u8]) -> Result<Granted, TokenError> {
    let parsed: TokenBody = serde_json::from_slice(body)
        .map_err(|e| TokenError::Malformed(format!("not token JSON: {e}")))?;
    if let Some(error) = parsed.error {
        let error = match error {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        return Err(TokenError::Refused(match parsed.message {
            Some(m) => format!("{error}: {m}"),
            None => error,
        }));
    }
    let token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Malformed("no access_token".to_string()))?;
    if HeaderValue::from_str(&format!("bearer {token}")).is_err() {
        return Err(TokenError::Malformed(
            "access_token is not a valid header value".to_string(),
        ));
    }
    let expires_in = parsed
        .expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(DEFAULT_LIFETIME);
    Ok(Granted {
        token,
        expires_in,
        scope: parsed.scope.unwrap_or_default(),
    })
}

/// The reason in an error body of the token endpoint or the API: `reason`
/// (`"private"`, `"quarantined"`, `"banned"`), else `message`, else `None`.
pub(super) fn error_reason(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    let error = e.error.and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    });
    e.reason.or(e.message).or(error).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: Option<&str>, password: Option<&str>) -> RedditCredentials {
        RedditCredentials {
            client_id: "p-jcoLKBynTLew".into(),
            client_secret: SecretString::from("gko_LXELoV07ZBNUXrvWZfzE3aI"),
            username: user.map(String::from),
            password: password.map(SecretString::from),
        }
    }

    #[test]
    fn grant_depends_on_username_and_password() {
        assert_eq!(creds(None, None).grant_type(), "client_credentials");
        assert_eq!(creds(Some("u"), None).grant_type(), "client_credentials");
        assert_eq!(creds(None, Some("p")).grant_type(), "client_credentials");
        assert_eq!(creds(Some("u"), Some("p")).grant_type(), "password");
        assert_eq!(
            creds(None, None).token_form(),
            "grant_type=client_credentials"
        );
        assert_eq!(
            creds(Some("tft_bot"), Some("p@ss word&=x")).token_form(),
            "grant_type=password&username=tft_bot&password=p%40ss+word%26%3Dx"
        );
    }

    #[test]
    fn debug_hides_the_secrets() {
        let shown = format!("{:?}", creds(Some("tft_bot"), Some("hunter2")));
        assert!(!shown.contains("gko_LXELoV07ZBNUXrvWZfzE3aI"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("p-jcoLKBynTLew") && shown.contains("tft_bot"),
            "{shown}"
        );
        let token = AccessToken {
            header: HeaderValue::from_static("bearer s3cr3t"),
            use_until: Instant::now(),
            generation: 1,
        };
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }

    #[test]
    fn parses_the_recorded_token_answer() {
        // TestAuthScript.test_scopes, interaction 0.
        let body = br#"{"access_token": "<ACCESS_TOKEN>", "token_type": "bearer", "expires_in": 3600, "scope": "*"}"#;
        assert_eq!(
            parse_token(body),
            Ok(Granted {
                token: "<ACCESS_TOKEN>".into(),
                expires_in: Duration::from_secs(3600),
                scope: "*".into()
            })
        );
    }

    #[test]
    fn token_errors() {
        assert_eq!(
            parse_token(br#"{"error": "invalid_grant"}"#),
            Err(TokenError::Refused("invalid_grant".into()))
        );
        assert_eq!(
            parse_token(br#"{"message": "Unauthorized", "error": 401}"#),
            Err(TokenError::Refused("401: Unauthorized".into()))
        );
        assert!(matches!(
            parse_token(b"<html>"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_token(br#"{"token_type": "bearer"}"#),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_token(br#"{"access_token": "a\nb"}"#),
            Err(TokenError::Malformed(_))
        ));
        let no_expiry = parse_token(br#"{"access_token": "t"}"#).unwrap();
        assert_eq!(no_expiry.expires_in, Duration::from_secs(3600));
    }

    #[test]
    fn tokens_are_refreshed_a_minute_early() {
        let s = Duration::from_secs;
        assert_eq!(usable_for(s(86_400)), s(86_340));
        assert_eq!(usable_for(s(3600)), s(3540));
        assert_eq!(
            usable_for(s(90)),
            s(45),
            "never more than half the lifetime"
        );
        assert_eq!(usable_for(s(0)), s(0));
    }

    #[test]
    fn error_reasons() {
        assert_eq!(
            error_reason(br#"{"message": "Forbidden", "error": 403}"#).as_deref(),
            Some("Forbidden")
        );
        assert_eq!(
            error_reason(br#"{"reason": "private", "message": "Forbidden", "error": 403}"#)
                .as_deref(),
            Some("private")
        );
        assert_eq!(
            error_reason(br#"{"error": "invalid_grant"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(error_reason(b"<html>"), None);
        assert_eq!(error_reason(b"{}"), None);
    }
}
