-- Notifications neither lost nor doubled (issue 11, defect 6; docs/notifications.md).
--
-- * skipped_at: the sender has no configuration for the row's channel (generate-signals
--   and the monitor queue every channel; they do not know the sender's settings). Not a
--   failure: never retried, not alarmed; `tft outbox requeue` brings it back once the
--   channel is configured.
-- * provider_message_id: what the provider answered for the send (SES MessageId, the
--   SMTP Message-ID), recorded with sent_at in the statement that ends the delivery.
-- * retry_since: the start of the message's retry budget (a day of retryable failures
--   before it is given up); `tft outbox requeue` restarts it.
ALTER TABLE notification_outbox
    ADD COLUMN skipped_at          TIMESTAMPTZ,
    ADD COLUMN provider_message_id TEXT,
    ADD COLUMN retry_since         TIMESTAMPTZ;
UPDATE notification_outbox SET retry_since = created_at;
ALTER TABLE notification_outbox
    ALTER COLUMN retry_since SET DEFAULT now(),
    ALTER COLUMN retry_since SET NOT NULL;

ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_sent_or_failed;
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_one_end
    CHECK (num_nonnulls(sent_at, failed_at, skipped_at) <= 1);

DROP INDEX notification_outbox_due_idx;
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL;
