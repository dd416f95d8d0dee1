//! Announcing a finished step on the project's EventBridge bus.
//!
//! Every daily step puts one event when it is done (`prices.updated`, ...), carrying the
//! trading date; the next step's rule matches its detail-type. Schemas: `docs/events.md`.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;

/// The `source` of every event the project puts.
pub const EVENT_SOURCE: &str = "tft.trader";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not serialise the {detail_type} event: {source}")]
    Serialise {
        detail_type: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("EventBridge refused the {detail_type} event: {message}")]
    Rejected {
        detail_type: String,
        message: String,
    },
    #[error("could not reach EventBridge to put {detail_type}: {message}")]
    Transport {
        detail_type: String,
        message: String,
    },
}

/// Puts events on one bus. Built once per container.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventPublisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    /// A publisher from the ambient AWS configuration (Lambda role, or the usual
    /// environment variables locally; `AWS_ENDPOINT_URL` points it at moto).
    pub async fn from_env(bus_name: impl Into<String>) -> Self {
        Self::from_sdk(crate::adapters::aws::AwsSdk::new().config().await, bus_name)
    }

    /// A publisher over an already loaded SDK configuration (the one the function shares).
    pub fn from_sdk(sdk_config: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        Self::new(aws_sdk_eventbridge::Client::new(sdk_config), bus_name)
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// Puts one event with `detail` serialised as JSON.
    #[tracing::instrument(skip(self, detail), fields(bus = %self.bus_name))]
    pub async fn publish<T: Serialize>(
        &self,
        detail_type: &str,
        detail: &T,
    ) -> Result<(), PublishError> {
        let detail_json =
            serde_json::to_string(detail).map_err(|source| PublishError::Serialise {
                detail_type: detail_type.to_string(),
                source,
            })?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(EVENT_SOURCE)
            .detail_type(detail_type)
            .detail(detail_json)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| PublishError::Transport {
                detail_type: detail_type.to_string(),
                message: aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string(),
            })?;
        if output.failed_entry_count() > 0 {
            let message = output
                .entries()
                .iter()
                .filter_map(|e| {
                    e.error_code()
                        .map(|code| format!("{code}: {}", e.error_message().unwrap_or("")))
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PublishError::Rejected {
                detail_type: detail_type.to_string(),
                message,
            });
        }
        tracing::info!(detail_type, "event published");
        Ok(())
    }
}
