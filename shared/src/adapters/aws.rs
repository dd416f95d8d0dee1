//! The AWS SDK configuration, loaded at most once per process and shared by every client a
//! function builds at init (Secrets Manager, EventBridge, SES, S3).
//!
//! `aws_config::load_defaults` resolves the region, builds the credentials chain and the
//! HTTPS client (with its root certificates). Loaded once per client it was most of a cold
//! start's own work: the cold-init benchmark measured api at 3.5x hello-world apart from
//! the database and the secret reads, with three loads (docs/deploy.md, "Cold init").
//!
//! Loading is lazy: a function that names no secret by ARN, no bus and no bucket (local
//! runs, the demo) never loads it. A handle belongs to the runtime that loaded it (the
//! HTTPS client's connection pool lives there), so it is passed down from `main`, never
//! kept in a process-wide static that another runtime (a test's) could pick up.

use std::sync::Arc;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

/// A shared, lazily loaded SDK configuration. Clones share the one load.
#[derive(Clone, Debug, Default)]
pub struct AwsSdk(Arc<OnceCell<SdkConfig>>);

impl AwsSdk {
    pub fn new() -> Self {
        Self::default()
    }

    /// The ambient configuration (the Lambda role; locally the usual environment
    /// variables, `AWS_ENDPOINT_URL` pointing at an emulator), loaded on first use.
    pub async fn config(&self) -> &SdkConfig {
        self.0
            .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
            .await
    }

    /// Whether [`Self::config`] has loaded it yet (any clone's call counts).
    pub fn is_loaded(&self) -> bool {
        self.0.initialized()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clones_share_one_load_and_nothing_loads_until_asked() {
        let sdk = AwsSdk::new();
        let clone = sdk.clone();
        assert!(!sdk.is_loaded() && !clone.is_loaded());
        let first: *const SdkConfig = clone.config().await;
        assert!(sdk.is_loaded(), "a clone's load is the original's");
        let second: *const SdkConfig = sdk.config().await;
        assert_eq!(first, second, "the same configuration, not a second load");
        assert!(!AwsSdk::new().is_loaded(), "a new handle is a new load");
    }
}
