//! Secrets at run time (issue 13): a deployed function's environment holds the ARNs of
//! its Secrets Manager secrets, not their values. At init, [`resolve_env`] reads each
//! named secret once (`GetSecretValue`), picks the keys of its JSON object and lays them
//! over the environment ([`SecretEnv`]) under the variables the configs already read, so
//! `Config::from_env` and the other parsers stay pure and unchanged. The values are kept
//! for the container's life (read once: no call per invocation) in
//! [`secrecy::SecretString`]s, and are never logged: errors name the ARN and the key,
//! never a value.
//!
//! Which variable holds which ARN and which keys it has: [`SECRET_SOURCES`].

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::adapters::aws::AwsSdk;
#[cfg(doc)]
use crate::config::SECRET_SOURCES;
use crate::config::{secret_reads, ConfigError, EnvSource, SecretEnv, SecretRead, SecretSource};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not read secret {arn} ({arn_var}): {message}")]
    Read {
        arn_var: &'static str,
        arn: String,
        message: String,
    },
    #[error(
        "secret {arn} ({arn_var}) has no SecretString: store a JSON object with the keys {keys}"
    )]
    NoString {
        arn_var: &'static str,
        arn: String,
        keys: String,
    },
    // serde_json's own message is left out: for a value of the wrong type it quotes it.
    #[error("secret {arn} ({arn_var}) is not a JSON object: store one with the keys {keys}")]
    NotAnObject {
        arn_var: &'static str,
        arn: String,
        keys: String,
    },
    #[error("secret {arn} ({arn_var}) has no {key:?} key, or it is empty (needed as {var})")]
    MissingKey {
        arn_var: &'static str,
        arn: String,
        key: &'static str,
        var: &'static str,
    },
    #[error("secret {arn} ({arn_var}): the {key:?} key must be a string")]
    NotAString {
        arn_var: &'static str,
        arn: String,
        key: &'static str,
    },
}

fn key_list(source: &SecretSource) -> String {
    source
        .keys
        .iter()
        .map(|k| {
            if k.required {
                format!("{:?}", k.json_key)
            } else {
                format!("{:?} (optional)", k.json_key)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The (variable, value) pairs `source` gives from the secret's text: every required key
/// present as a non-empty string; optional keys absent, null or empty are left out.
pub fn pick_keys(
    read: &SecretRead,
    secret_string: &SecretString,
) -> Result<Vec<(&'static str, SecretString)>, SecretError> {
    let source = read.source;
    let object: Map<String, Value> =
        serde_json::from_str(secret_string.expose_secret()).map_err(|_| {
            SecretError::NotAnObject {
                arn_var: source.arn_var,
                arn: read.arn.clone(),
                keys: key_list(source),
            }
        })?;
    let mut picked = Vec::new();
    for k in source.keys {
        let value = match object.get(k.json_key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(SecretString::from(s.clone())),
            Some(_) => {
                return Err(SecretError::NotAString {
                    arn_var: source.arn_var,
                    arn: read.arn.clone(),
                    key: k.json_key,
                })
            }
        };
        match value {
            Some(v) => picked.push((k.var, v)),
            None if k.required => {
                return Err(SecretError::MissingKey {
                    arn_var: source.arn_var,
                    arn: read.arn.clone(),
                    key: k.json_key,
                    var: k.var,
                })
            }
            None => {}
        }
    }
    Ok(picked)
}

/// Reads secrets through the AWS SDK. Built only when an ARN is given.
#[derive(Debug, Clone)]
pub struct SecretsReader {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsReader {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// A reader from the ambient AWS configuration (the Lambda role; locally the usual
    /// environment variables, `AWS_ENDPOINT_URL` pointing at moto).
    pub async fn from_env() -> Self {
        Self::from_sdk(AwsSdk::new().config().await)
    }

    /// A reader over an already loaded SDK configuration (the one the function shares).
    pub fn from_sdk(sdk_config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(sdk_config))
    }

    /// The secret's current string (`GetSecretValue`, version `AWSCURRENT`).
    async fn secret_string(&self, read: &SecretRead) -> Result<SecretString, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&read.arn)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                arn_var: read.source.arn_var,
                arn: read.arn.clone(),
                // The error's own text: its code and message, never the value (there is
                // none in an error response).
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            })?;
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| SecretError::NoString {
                arn_var: read.source.arn_var,
                arn: read.arn.clone(),
                keys: key_list(read.source),
            })
    }

    /// One secret read and its keys picked.
    pub async fn read(
        &self,
        read: &SecretRead,
    ) -> Result<Vec<(&'static str, SecretString)>, SecretError> {
        let text = self.secret_string(read).await?;
        pick_keys(read, &text)
    }

    /// `base` with every secret it names by ARN read (concurrently) and laid over it.
    pub async fn resolve(
        &self,
        base: impl EnvSource + Send + Sync + 'static,
    ) -> Result<SecretEnv, SecretError> {
        let reads = secret_reads(&base)?;
        resolve_reads(Some(self), base, reads).await
    }
}

async fn resolve_reads(
    reader: Option<&SecretsReader>,
    base: impl EnvSource + Send + Sync + 'static,
    reads: Vec<SecretRead>,
) -> Result<SecretEnv, SecretError> {
    let mut env = SecretEnv::plain(base);
    let Some(reader) = reader.filter(|_| !reads.is_empty()) else {
        return Ok(env);
    };
    let values = futures::future::try_join_all(reads.iter().map(|r| reader.read(r))).await?;
    for (read, values) in reads.iter().zip(values) {
        tracing::info!(
            arn_var = read.source.arn_var,
            arn = %read.arn,
            vars = ?values.iter().map(|(var, _)| *var).collect::<Vec<_>>(),
            "secret read"
        );
        env = env.with_secret(read.source, values);
    }
    Ok(env)
}

/// The environment the configs are parsed from, at init: `base` (the process
/// environment) with every secret named by an `*_SECRET_ARN` variable read once and laid
/// over it. Without any such variable no AWS client is built and no call is made (local
/// runs, tests, the demo); a variable given both ways is an error.
pub async fn resolve_env(
    base: impl EnvSource + Send + Sync + 'static,
) -> Result<SecretEnv, SecretError> {
    resolve_env_with(base, &AwsSdk::new()).await
}

/// [`resolve_env`] with the SDK configuration the function shares: it is loaded (once)
/// only when a secret is named by ARN.
pub async fn resolve_env_with(
    base: impl EnvSource + Send + Sync + 'static,
    sdk: &AwsSdk,
) -> Result<SecretEnv, SecretError> {
    let reads = secret_reads(&base)?;
    if reads.is_empty() {
        return resolve_reads(None, base, reads).await;
    }
    let reader = SecretsReader::from_sdk(sdk.config().await);
    resolve_reads(Some(&reader), base, reads).await
}

/// [`resolve_env_with`] and how long it took in milliseconds (the SDK's load included): every
/// function logs it at init as `secrets_ms`, which the cold-init benchmark reports apart from
/// the rest of init, like the database connection (tools/bench/cold_init.sh).
pub async fn resolve_env_timed(
    base: impl EnvSource + Send + Sync + 'static,
    sdk: &AwsSdk,
) -> (Result<SecretEnv, SecretError>, f64) {
    let started = std::time::Instant::now();
    let env = resolve_env_with(base, sdk).await;
    (env, started.elapsed().as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SECRET_SOURCES;

    fn read(arn_var: &str) -> SecretRead {
        SecretRead {
            source: SECRET_SOURCES
                .iter()
                .find(|s| s.arn_var == arn_var)
                .unwrap(),
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:tft-x-AbCdEf".into(),
        }
    }

    fn pick(arn_var: &str, json: &str) -> Result<Vec<(&'static str, String)>, String> {
        pick_keys(&read(arn_var), &SecretString::from(json.to_string()))
            .map(|v| {
                v.into_iter()
                    .map(|(k, s)| (k, s.expose_secret().to_string()))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn required_keys_are_picked_and_renamed() {
        assert_eq!(
            pick(
                "DATABASE_URL_SECRET_ARN",
                r#"{"url":"postgres://u:p@h/db","x":1}"#
            ),
            Ok(vec![("DATABASE_URL", "postgres://u:p@h/db".to_string())])
        );
    }

    #[test]
    fn optional_reddit_keys_may_be_absent_empty_or_null() {
        let expected = vec![
            ("REDDIT_CLIENT_ID", "id".to_string()),
            ("REDDIT_CLIENT_SECRET", "cs".to_string()),
        ];
        for json in [
            r#"{"client_id":"id","client_secret":"cs"}"#,
            r#"{"client_id":"id","client_secret":"cs","username":"","password":""}"#,
            r#"{"client_id":"id","client_secret":"cs","username":null,"password":" "}"#,
        ] {
            assert_eq!(
                pick("REDDIT_SECRET_ARN", json),
                Ok(expected.clone()),
                "{json}"
            );
        }
        let with_user = pick(
            "REDDIT_SECRET_ARN",
            r#"{"client_id":"id","client_secret":"cs","username":"bot","password":"pw"}"#,
        )
        .unwrap();
        assert_eq!(with_user.len(), 4);
    }

    #[test]
    fn a_missing_or_empty_required_key_names_key_and_arn_not_values() {
        for json in [
            r#"{"client_id":"id-hunter2"}"#,
            r#"{"client_id":"id-hunter2","client_secret":""}"#,
        ] {
            let err = pick("REDDIT_SECRET_ARN", json).unwrap_err();
            assert!(err.contains("\"client_secret\""), "{err}");
            assert!(err.contains("secret:tft-x-AbCdEf"), "{err}");
            assert!(err.contains("REDDIT_CLIENT_SECRET"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn a_secret_that_is_not_a_json_object_is_refused_without_quoting_it() {
        for json in [
            r#""postgres://u:hunter2@h/db""#,
            "postgres://u:hunter2@h/db",
            "[1]",
        ] {
            let err = pick("DATABASE_URL_SECRET_ARN", json).unwrap_err();
            assert!(err.contains("not a JSON object"), "{err}");
            assert!(err.contains("\"url\""), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = pick("DATABASE_URL_SECRET_ARN", r#"{"url":{"v":"hunter2"}}"#).unwrap_err();
        assert!(
            err.contains("must be a string") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn without_an_arn_nothing_is_read() {
        // No AWS configuration here at all: resolving must not need one, nor load it.
        let sdk = AwsSdk::new();
        let env = resolve_env_with([("DATABASE_URL", "postgres://localhost/tft")], &sdk)
            .await
            .unwrap();
        assert!(!sdk.is_loaded(), "no secret by ARN: the SDK stays unloaded");
        assert_eq!(
            env.get("DATABASE_URL").as_deref(),
            Some("postgres://localhost/tft")
        );
        assert_eq!(env.secret_vars().count(), 0);
    }

    #[tokio::test]
    async fn a_value_and_its_arn_together_fail_before_any_call() {
        let err = resolve_env([
            ("NOTIFY_WEBHOOK_SECRET", "s"),
            ("NOTIFY_WEBHOOK_SECRET_ARN", "arn:x"),
        ])
        .await
        .unwrap_err();
        assert!(matches!(
            err,
            SecretError::Config(ConfigError::Ambiguous { .. })
        ));
    }
}
