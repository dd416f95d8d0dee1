//! `tft outbox list|requeue`: what the notification sender gave up on (or skipped), and
//! sending it again (docs/notifications.md).

use clap::{Subcommand, ValueEnum};
use shared::adapters::db;
use shared::adapters::outbox::{self, ListFilter, OutboxRow};
use shared::config::Config;

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// The newest notifications in a state, one JSON object per line.
    List {
        #[arg(long, value_enum, default_value_t = State::GivenUp)]
        state: State,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put given-up or skipped notifications back in the queue, due now, with a fresh
    /// day of retries; a sent one is never requeued.
    Requeue {
        /// Idempotency keys (as `list` shows them).
        #[arg(required_unless_present = "all_given_up")]
        keys: Vec<String>,
        /// Every given-up notification (up to 10 000).
        #[arg(long)]
        all_given_up: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum State {
    GivenUp,
    Skipped,
    Pending,
    All,
}

impl From<State> for ListFilter {
    fn from(s: State) -> Self {
        match s {
            State::GivenUp => ListFilter::GivenUp,
            State::Skipped => ListFilter::Skipped,
            State::Pending => ListFilter::Pending,
            State::All => ListFilter::All,
        }
    }
}

fn line(r: &OutboxRow) -> serde_json::Value {
    serde_json::json!({
        "key": r.message.idempotency_key,
        "event_type": r.message.event_type,
        "channel": r.message.channel,
        "created_at": r.message.created_at,
        "attempts": r.message.attempts,
        "next_attempt_at": r.next_attempt_at,
        "last_error": r.last_error,
        "sent_at": r.sent_at,
        "failed_at": r.failed_at,
        "skipped_at": r.skipped_at,
        "provider_message_id": r.provider_message_id,
    })
}

pub async fn run(command: OutboxCommand) -> anyhow::Result<()> {
    let config = Config::from_process_env()?;
    let pool = db::connect_pool(&config.database)?;
    let client = pool.get().await?;
    match command {
        OutboxCommand::List { state, limit } => {
            for row in outbox::list(&**client, state.into(), limit.clamp(1, 10_000)).await? {
                println!("{}", line(&row));
            }
        }
        OutboxCommand::Requeue { keys, all_given_up } => {
            let mut keys = keys;
            if all_given_up {
                keys.extend(
                    outbox::list(&**client, ListFilter::GivenUp, 10_000)
                        .await?
                        .into_iter()
                        .map(|r| r.message.idempotency_key),
                );
            }
            let n = outbox::requeue(&**client, &keys).await?;
            eprintln!("requeued {n} of {} notification(s)", keys.len());
        }
    }
    Ok(())
}
