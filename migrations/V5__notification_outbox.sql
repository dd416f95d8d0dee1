-- The notification outbox: what the system has to tell the user, written in the same
-- transaction as the signal or exit it announces, delivered by the notify sender.
--
-- * idempotency_key is "<event_type>:<entity id>:<channel>": enqueueing is INSERT ... ON
--   CONFLICT DO NOTHING on it, so a re-run of a function never queues a duplicate. The
--   key is also sent to receivers (Idempotency-Key header) to deduplicate a resend.
-- * A message is due while sent_at and failed_at are NULL and next_attempt_at has passed.
--   Claiming moves next_attempt_at forward (a lease) and counts the attempt; a crash
--   after sending but before marking resends after the lease: at least once, never lost.
-- * failed_at: given up (a permanent error or too many attempts); last_error says why.
--   An operator requeues with: UPDATE ... SET failed_at = NULL, next_attempt_at = now().
CREATE TABLE notification_outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  VARCHAR(200) NOT NULL,
    event_type       VARCHAR(64)  NOT NULL,
    channel          VARCHAR(16)  NOT NULL CHECK (channel IN ('webhook', 'email')),
    payload          JSONB        NOT NULL,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    attempts         INTEGER      NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_error       TEXT,
    sent_at          TIMESTAMPTZ,
    failed_at        TIMESTAMPTZ,
    CONSTRAINT notification_outbox_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT notification_outbox_sent_or_failed CHECK (sent_at IS NULL OR failed_at IS NULL)
);

-- The sender's scan: pending messages by due time.
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
