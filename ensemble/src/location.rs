//! Where the model store is, from the environment, and the S3 client that reads it: what
//! the predict job, `tft` and the query API (`GET /v1/models`, which needs no tract) share.

use shared::config::EnvSource;

use crate::store::ModelStore;

/// Where the models are, from the environment: `TFT_MODEL_DIR` (a local store root, for
/// `tft`), else `TFT_MODEL_BUCKET` with `TFT_MODEL_PREFIX` (default `models`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelLocation {
    Local(std::path::PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ModelLocation {
    pub fn from_env(env: &dyn EnvSource) -> anyhow::Result<Self> {
        if let Some(dir) = env.get("TFT_MODEL_DIR") {
            return Ok(Self::Local(dir.into()));
        }
        match env.get("TFT_MODEL_BUCKET") {
            Some(bucket) => Ok(Self::S3 {
                bucket,
                prefix: env
                    .get("TFT_MODEL_PREFIX")
                    .map(|p| p.trim_matches('/').to_string())
                    .unwrap_or_else(|| "models".into()),
            }),
            None => anyhow::bail!(
                "no model store: set TFT_MODEL_BUCKET (and TFT_MODEL_PREFIX) or TFT_MODEL_DIR"
            ),
        }
    }

    /// The store, with an S3 client from the ambient AWS configuration (path-style
    /// addressing when `AWS_ENDPOINT_URL` points at a local emulator).
    pub async fn store(self) -> ModelStore {
        match self {
            Self::Local(root) => ModelStore::Local(root),
            s3 => {
                let sdk = shared::adapters::aws::load().await;
                s3.store_with(&sdk)
            }
        }
    }

    /// The store, with an S3 client over an already loaded SDK configuration (the one a
    /// function shares, `shared::adapters::aws::AwsSdk`): no second load at init.
    pub fn store_with(self, sdk: &aws_config::SdkConfig) -> ModelStore {
        match self {
            Self::Local(root) => ModelStore::Local(root),
            Self::S3 { bucket, prefix } => ModelStore::S3 {
                client: s3_client_from(sdk),
                bucket,
                prefix,
            },
        }
    }
}

/// An S3 client from the ambient AWS configuration.
pub async fn s3_client() -> aws_sdk_s3::Client {
    s3_client_from(&shared::adapters::aws::load().await)
}

/// An S3 client over `sdk` (path-style addressing when `AWS_ENDPOINT_URL` points at a
/// local emulator).
pub fn s3_client_from(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let emulator = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(emulator)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_location_from_env() {
        let local = [("TFT_MODEL_DIR", "models/store"), ("TFT_MODEL_BUCKET", "b")];
        assert_eq!(
            ModelLocation::from_env(&local).unwrap(),
            ModelLocation::Local("models/store".into())
        );
        let s3 = [
            ("TFT_MODEL_BUCKET", "tft-models"),
            ("TFT_MODEL_PREFIX", "/m/"),
        ];
        assert_eq!(
            ModelLocation::from_env(&s3).unwrap(),
            ModelLocation::S3 {
                bucket: "tft-models".into(),
                prefix: "m".into()
            }
        );
        let default_prefix = [("TFT_MODEL_BUCKET", "tft-models")];
        assert!(matches!(
            ModelLocation::from_env(&default_prefix).unwrap(),
            ModelLocation::S3 { prefix, .. } if prefix == "models"
        ));
        let err = ModelLocation::from_env(&[("X", "")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TFT_MODEL_BUCKET"), "{err}");
    }
}
