//! The notification outbox and its sender: real PostgreSQL, a real local HTTP receiver
//! (wiremock) for the webhook, SES v2 on moto and a real SMTP server (aiosmtpd) for e-mail.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use integration_tests::{aws_endpoint, TestDb};
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::adapters::email::{EmailSender, EmailSettings};
use shared::adapters::outbox::{self, Channel, Notification, OutboxRow};
use shared::adapters::smtp::{SmtpSender, SmtpSettings};
use shared::adapters::webhook::{WebhookClient, WebhookSettings};
use shared::jobs::notify::{Mailer, Notifier, NotifySummary, SendOptions};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "whsec_test_5f1c";

fn opened(entity: i64, channel: Channel) -> Notification {
    Notification::new(
        "signal.opened",
        entity,
        channel,
        json!({
            "signal_id": entity,
            "ticker": "AAPL",
            "signal": "BUY",
            "trading_date": "2026-03-02",
            "entry_price": 187.25,
            "target_price": 201.0,
            "stop_loss": 180.5,
            "confidence": 0.71,
            "links": {"chart": "https://finance.yahoo.com/quote/AAPL"}
        }),
    )
}

fn webhook(url: String, timeout: Duration) -> WebhookClient {
    WebhookClient::new(WebhookSettings {
        url,
        secret: SecretString::from(SECRET),
        timeout,
        allow_http: true,
    })
    .unwrap()
}

fn notifier(test_db: &TestDb, url: String) -> Notifier {
    Notifier::new(
        test_db.pool.clone(),
        Some(webhook(url, Duration::from_secs(5))),
        None,
        SendOptions::default(),
    )
}

async fn enqueue(test_db: &TestDb, n: &Notification) -> bool {
    let client = test_db.pool.get().await.unwrap();
    outbox::enqueue(&**client, n).await.unwrap()
}

async fn row(test_db: &TestDb, key: &str) -> OutboxRow {
    let client = test_db.pool.get().await.unwrap();
    outbox::find_by_key(&**client, key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no outbox row {key}"))
}

async fn count_rows(test_db: &TestDb) -> i64 {
    let client = test_db.pool.get().await.unwrap();
    client
        .query_one("SELECT count(*) FROM notification_outbox", &[])
        .await
        .unwrap()
        .get(0)
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The receiver's check, done the way docs/notifications.md tells a Python receiver
/// (an implementation independent of the sender's).
fn python_hmac(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import hashlib, hmac, sys\n\
             secret, ts = sys.argv[1], sys.argv[2]\n\
             body = sys.stdin.buffer.read()\n\
             print(hmac.new(secret.encode(), ts.encode() + b'.' + body, hashlib.sha256).hexdigest())",
            secret,
            timestamp,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn enqueue_is_idempotent_and_commits_with_the_callers_transaction() {
    let test_db = TestDb::new().await;
    let n = opened(1, Channel::Webhook);
    assert!(enqueue(&test_db, &n).await);
    assert!(!enqueue(&test_db, &n).await, "same key twice is a no-op");
    assert_eq!(count_rows(&test_db).await, 1);
    assert_eq!(
        row(&test_db, "signal.opened:1:webhook")
            .await
            .message
            .payload,
        n.payload
    );

    // Rolled back with the caller's transaction: nothing queued.
    let mut client = test_db.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    assert!(outbox::enqueue(&*tx, &opened(2, Channel::Webhook))
        .await
        .unwrap());
    assert!(outbox::enqueue(&*tx, &opened(2, Channel::Email))
        .await
        .unwrap());
    tx.rollback().await.unwrap();
    assert_eq!(count_rows(&test_db).await, 1);

    // Committed: both there.
    let tx = client.transaction().await.unwrap();
    outbox::enqueue(&*tx, &opened(3, Channel::Webhook))
        .await
        .unwrap();
    outbox::enqueue(&*tx, &opened(3, Channel::Email))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count_rows(&test_db).await, 3);
}

#[tokio::test]
async fn webhook_is_delivered_signed_marked_and_not_sent_again() {
    let test_db = TestDb::new().await;
    let server = receiver(200).await;
    let n = opened(10, Channel::Webhook);
    enqueue(&test_db, &n).await;
    let sender = notifier(&test_db, format!("{}/hook", server.uri()));

    let before = Utc::now().timestamp();
    let summary = sender.run().await.unwrap();
    assert_eq!(
        summary,
        NotifySummary {
            claimed: 1,
            sent: 1,
            ..Default::default()
        }
    );

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, "x-tft-event"), "signal.opened");
    assert_eq!(
        header(request, "idempotency-key"),
        "signal.opened:10:webhook"
    );

    // Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<raw body>")>.
    let signature = header(request, "x-tft-signature");
    let (t, v1) = signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature header {signature:?}"));
    let ts: i64 = t.parse().unwrap();
    assert!((before - 1..=Utc::now().timestamp() + 1).contains(&ts));
    assert_eq!(v1, python_hmac(SECRET, t, &request.body));
    assert_ne!(v1, python_hmac("wrong-secret", t, &request.body));

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], "signal.opened:10:webhook");
    assert_eq!(body["type"], "signal.opened");
    assert_eq!(body["data"], n.payload);
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));

    let stored = row(&test_db, "signal.opened:10:webhook").await;
    assert!(stored.sent_at.is_some());
    assert_eq!(stored.message.attempts, 1);
    assert_eq!(stored.last_error, None);

    // A second run finds nothing due.
    assert_eq!(sender.run().await.unwrap(), NotifySummary::default());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried_and_refusals_given_up() {
    let test_db = TestDb::new().await;

    // 500: retried later, error kept.
    let failing = receiver(500).await;
    enqueue(&test_db, &opened(20, Channel::Webhook)).await;
    let summary = notifier(&test_db, format!("{}/hook", failing.uri()))
        .run()
        .await
        .unwrap();
    assert_eq!((summary.claimed, summary.retried), (1, 1));
    let stored = row(&test_db, "signal.opened:20:webhook").await;
    assert_eq!(stored.message.attempts, 1);
    assert!(stored.sent_at.is_none() && stored.failed_at.is_none());
    assert!(stored.last_error.as_deref().unwrap().contains("500"));
    // First backoff: one minute.
    let wait = stored.next_attempt_at - Utc::now();
    assert!(wait > chrono::Duration::seconds(50), "{wait}");
    assert!(wait <= chrono::Duration::seconds(61), "{wait}");

    // 410 Gone: permanent, given up after one attempt, error kept for an operator.
    let gone = receiver(410).await;
    enqueue(&test_db, &opened(21, Channel::Webhook)).await;
    let summary = notifier(&test_db, format!("{}/hook", gone.uri()))
        .run()
        .await
        .unwrap();
    assert_eq!((summary.claimed, summary.given_up), (1, 1));
    let stored = row(&test_db, "signal.opened:21:webhook").await;
    assert!(stored.failed_at.is_some() && stored.sent_at.is_none());
    assert!(stored.last_error.as_deref().unwrap().contains("410"));

    // A receiver slower than the timeout: retried.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    enqueue(&test_db, &opened(22, Channel::Webhook)).await;
    let summary = Notifier::new(
        test_db.pool.clone(),
        Some(webhook(
            format!("{}/hook", slow.uri()),
            Duration::from_millis(300),
        )),
        None,
        SendOptions::default(),
    )
    .run()
    .await
    .unwrap();
    assert_eq!((summary.claimed, summary.retried), (1, 1));
    let stored = row(&test_db, "signal.opened:22:webhook").await;
    assert!(stored.sent_at.is_none() && stored.failed_at.is_none());
    assert!(
        stored.last_error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        stored.last_error
    );
    assert!(stored.next_attempt_at > Utc::now() + chrono::Duration::seconds(50));

    // The retry budget (a day) spent: a retryable failure gives up.
    let client = test_db.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE notification_outbox SET attempts = 7, next_attempt_at = now(), \
                 retry_since = now() - interval '25 hours' \
             WHERE idempotency_key = 'signal.opened:20:webhook'",
            &[],
        )
        .await
        .unwrap();
    let summary = notifier(&test_db, format!("{}/hook", failing.uri()))
        .run()
        .await
        .unwrap();
    assert_eq!((summary.claimed, summary.given_up), (1, 1));
    let stored = row(&test_db, "signal.opened:20:webhook").await;
    assert_eq!(stored.message.attempts, 8);
    assert!(stored.failed_at.is_some());
    assert!(stored.last_error.as_deref().unwrap().contains("500"));
}

#[tokio::test]
async fn a_crash_between_sending_and_marking_resends_with_the_same_key() {
    let test_db = TestDb::new().await;
    let server = receiver(200).await;
    enqueue(&test_db, &opened(30, Channel::Webhook)).await;
    let sender = notifier(&test_db, format!("{}/hook", server.uri()));

    // Claim (lease 1 s) and send, then "crash" before marking.
    let claimed = {
        let client = test_db.pool.get().await.unwrap();
        outbox::claim_due(&**client, 10, Duration::from_secs(1))
            .await
            .unwrap()
    };
    assert_eq!(claimed.len(), 1);
    sender.deliver(&claimed[0]).await.unwrap();

    // While the lease runs, no other sender takes it.
    assert_eq!(sender.run().await.unwrap().claimed, 0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let summary = sender.run().await.unwrap();
    assert_eq!((summary.claimed, summary.sent), (1, 1));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests.len(),
        2,
        "at least once: sent again after the crash"
    );
    for r in &requests {
        assert_eq!(header(r, "idempotency-key"), "signal.opened:30:webhook");
    }
    let stored = row(&test_db, "signal.opened:30:webhook").await;
    assert!(stored.sent_at.is_some());
    assert_eq!(stored.message.attempts, 2);
    assert_eq!(sender.run().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn two_concurrent_senders_deliver_each_message_exactly_once() {
    let test_db = TestDb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(20)))
        .mount(&server)
        .await;
    for i in 0..50 {
        enqueue(&test_db, &opened(100 + i, Channel::Webhook)).await;
    }
    let options = SendOptions {
        batch_size: 5,
        concurrency: 3,
        ..SendOptions::default()
    };
    let make = || {
        Notifier::new(
            test_db.pool.clone(),
            Some(webhook(
                format!("{}/hook", server.uri()),
                Duration::from_secs(5),
            )),
            None,
            options.clone(),
        )
    };
    let (a, b) = (make(), make());
    let (sa, sb) = tokio::join!(a.run(), b.run());
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa.sent + sb.sent, 50, "{sa:?} {sb:?}");
    assert_eq!(sa.claimed + sb.claimed, 50);
    assert!(sa.sent > 0 && sb.sent > 0, "both took part: {sa:?} {sb:?}");

    let mut per_key: HashMap<String, usize> = HashMap::new();
    for r in server.received_requests().await.unwrap() {
        *per_key
            .entry(header(&r, "idempotency-key").to_string())
            .or_default() += 1;
    }
    assert_eq!(per_key.len(), 50);
    assert!(per_key.values().all(|&n| n == 1), "{per_key:?}");
    let client = test_db.pool.get().await.unwrap();
    let unsent: i64 = client
        .query_one(
            "SELECT count(*) FROM notification_outbox WHERE sent_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unsent, 0);
}

/// One SES v2 REST call on moto (the test sets moto up; the product never does).
pub(crate) async fn ses_v2(method: reqwest::Method, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", aws_endpoint()))
        .header("Content-Type", "application/json")
        // moto routes by the service in the credential scope (and /v2/ for SES v2).
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ses/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto");
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "SES {path} -> {status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// What a chain test delivers to: a local webhook receiver answering 200 and SES v2 on
/// moto with a freshly verified sender, behind one [`Notifier`].
pub(crate) struct Delivery {
    pub notifier: Notifier,
    pub receiver: MockServer,
    /// The e-mail recipient (unique per test, to find its messages in moto).
    pub to: String,
}

pub(crate) async fn webhook_and_ses(pool: shared::adapters::db::Pool, secret: &str) -> Delivery {
    let suffix = format!("{:08x}", rand::random::<u32>());
    let from = format!("alerts-{suffix}@tft.test");
    let to = format!("trader-{suffix}@example.com");
    // moto refuses to send from an unverified identity; creating it verifies it.
    ses_v2(
        reqwest::Method::POST,
        "/v2/email/identities",
        json!({"EmailIdentity": from}),
    )
    .await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let notifier = Notifier::new(
        pool,
        Some(
            WebhookClient::new(WebhookSettings {
                url: format!("{}/hook", receiver.uri()),
                secret: SecretString::from(secret),
                timeout: Duration::from_secs(5),
                allow_http: true,
            })
            .unwrap(),
        ),
        Some(
            EmailSender::from_env(EmailSettings {
                from,
                to: vec![to.clone()],
            })
            .await,
        ),
        SendOptions::default(),
    );
    Delivery {
        notifier,
        receiver,
        to,
    }
}

#[tokio::test]
async fn email_is_sent_through_ses_on_moto() {
    let test_db = TestDb::new().await;
    let suffix = format!("{:08x}", rand::random::<u32>());
    let from = format!("alerts-{suffix}@tft.test");
    let to = format!("trader-{suffix}@example.com");
    // moto refuses to send from an unverified identity; creating it verifies it.
    ses_v2(
        reqwest::Method::POST,
        "/v2/email/identities",
        json!({"EmailIdentity": from}),
    )
    .await;

    let n = opened(40, Channel::Email);
    enqueue(&test_db, &n).await;
    let email = EmailSender::from_env(EmailSettings {
        from: from.clone(),
        to: vec![to.clone()],
    })
    .await;
    let sender = Notifier::new(
        test_db.pool.clone(),
        None,
        Some(email),
        SendOptions::default(),
    );
    let summary = sender.run().await.unwrap();
    assert_eq!((summary.claimed, summary.sent), (1, 1), "{summary:?}");
    assert!(row(&test_db, "signal.opened:40:email")
        .await
        .sent_at
        .is_some());

    // What moto recorded: data.json lists SES messages under ses.Message.
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", aws_endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent: Vec<&Value> = data["ses"]["Message"]
        .as_array()
        .expect("ses.Message")
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"] == json!([to]))
        .collect();
    assert_eq!(sent.len(), 1, "{data}");
    let message = sent[0];
    assert_eq!(message["source"], from.as_str());
    assert_eq!(message["subject"], "[TFT Trader] signal.opened: AAPL");
    // moto keeps the HTML body when both are given.
    let html = message["body"].as_str().unwrap();
    assert!(
        html.contains("<th align=\"left\">ticker</th><td>AAPL</td>"),
        "{html}"
    );
    assert!(html.contains("href=\"https://finance.yahoo.com/quote/AAPL\""));

    // An unverified sender: SES refuses, the message is kept for a retry.
    let n = opened(41, Channel::Email);
    enqueue(&test_db, &n).await;
    let unverified = Notifier::new(
        test_db.pool.clone(),
        None,
        Some(
            EmailSender::from_env(EmailSettings {
                from: format!("nobody-{suffix}@unverified.test"),
                to: vec![to.clone()],
            })
            .await,
        ),
        SendOptions::default(),
    );
    let summary = unverified.run().await.unwrap();
    assert_eq!((summary.claimed, summary.retried), (1, 1), "{summary:?}");
    let stored = row(&test_db, "signal.opened:41:email").await;
    assert!(
        stored
            .last_error
            .as_deref()
            .unwrap()
            .contains("not verified"),
        "{:?}",
        stored.last_error
    );
}

#[tokio::test]
async fn email_request_carries_a_text_and_an_html_body() {
    // moto keeps one body; the SES request itself, captured, shows both.
    let test_db = TestDb::new().await;
    let ses = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/email/outbound-emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"MessageId": "m-1"})))
        .mount(&ses)
        .await;
    enqueue(&test_db, &opened(50, Channel::Email)).await;
    let email = EmailSender::with_endpoint(
        EmailSettings {
            from: "alerts@tft.test".into(),
            to: vec!["a@example.com".into(), "b@example.com".into()],
        },
        &ses.uri(),
    )
    .await;
    let sender = Notifier::new(
        test_db.pool.clone(),
        None,
        Some(email),
        SendOptions::default(),
    );
    assert_eq!(sender.run().await.unwrap().sent, 1);

    let requests = ses.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["FromEmailAddress"], "alerts@tft.test");
    assert_eq!(
        body["Destination"]["ToAddresses"],
        json!(["a@example.com", "b@example.com"])
    );
    let simple = &body["Content"]["Simple"];
    assert_eq!(
        simple["Subject"]["Data"],
        "[TFT Trader] signal.opened: AAPL"
    );
    let text = simple["Body"]["Text"]["Data"].as_str().unwrap();
    let html = simple["Body"]["Html"]["Data"].as_str().unwrap();
    assert!(text.contains("entry_price: 187.25\n"), "{text}");
    assert!(text.contains("chart: https://finance.yahoo.com/quote/AAPL\n"));
    assert!(html.contains("<td>187.25</td>"), "{html}");
    assert_eq!(simple["Body"]["Text"]["Charset"], "UTF-8");
}

// --- E-mail over SMTP: a real server (aiosmtpd, started by infra/test-env.sh) ---------

pub(crate) fn smtp_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through infra/test-env.sh (it starts aiosmtpd)")
    })
}

pub(crate) fn smtp_notifier(test_db: &TestDb, url: &str, to: &str) -> Notifier {
    let sender = SmtpSender::new(
        &SmtpSettings {
            url: SecretString::from(url),
            timeout: Duration::from_secs(5),
        },
        EmailSettings {
            from: "alerts@tft.test".into(),
            to: vec![to.to_string()],
        },
    )
    .unwrap();
    Notifier::with_mailer(
        test_db.pool.clone(),
        None,
        Some(Mailer::from(sender)),
        SendOptions::default(),
    )
}

/// The messages aiosmtpd stored for `to`, parsed by Python's `email` package (a MIME
/// reader independent of lettre): headers, and each part's type and decoded text.
pub(crate) fn smtp_received(to: &str) -> Vec<Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import email, email.policy, json, mailbox, sys\n\
             box = mailbox.Maildir(sys.argv[1], create=False)\n\
             found = []\n\
             for key in sorted(box.keys()):\n\
             \x20   msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)\n\
             \x20   if msg['X-RcptTo'] != sys.argv[2]:\n\
             \x20       continue\n\
             \x20   found.append({\n\
             \x20       'subject': str(msg['Subject']), 'from': str(msg['From']), 'to': str(msg['To']),\n\
             \x20       'message_id': str(msg['Message-ID']),\n\
             \x20       'key': str(msg['X-TFT-Idempotency-Key']),\n\
             \x20       'type': msg.get_content_type(),\n\
             \x20       'parts': [{'type': p.get_content_type(), 'body': p.get_content()}\n\
             \x20                 for p in msg.iter_parts()],\n\
             \x20   })\n\
             print(json.dumps(found))",
            &smtp_env("SMTP_TEST_MAILDIR"),
            to,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn unique_recipient() -> String {
    format!("trader-{:08x}@example.com", rand::random::<u32>())
}

#[tokio::test]
async fn email_over_smtp_arrives_once_with_both_parts_and_the_key() {
    let test_db = TestDb::new().await;
    let to = unique_recipient();
    enqueue(&test_db, &opened(60, Channel::Email)).await;
    let sender = smtp_notifier(&test_db, &smtp_env("SMTP_TEST_URL"), &to);

    let summary = sender.run().await.unwrap();
    assert_eq!((summary.claimed, summary.sent), (1, 1), "{summary:?}");
    assert!(row(&test_db, "signal.opened:60:email")
        .await
        .sent_at
        .is_some());

    let received = smtp_received(&to);
    assert_eq!(received.len(), 1, "{received:?}");
    let m = &received[0];
    assert_eq!(m["subject"], "[TFT Trader] signal.opened: AAPL");
    assert_eq!(m["from"], "alerts@tft.test");
    assert_eq!(m["to"], to.as_str());
    assert_eq!(m["key"], "signal.opened:60:email");
    assert_eq!(
        m["message_id"],
        shared::adapters::smtp::message_id("signal.opened:60:email", "alerts@tft.test")
    );
    assert_eq!(m["type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[1]["type"], "text/html");
    let text = parts[0]["body"].as_str().unwrap();
    let html = parts[1]["body"].as_str().unwrap();
    assert!(text.contains("entry_price: 187.25\n"), "{text}");
    assert!(
        text.contains("Notification signal.opened:60:email"),
        "{text}"
    );
    assert!(
        html.contains("<th align=\"left\">ticker</th><td>AAPL</td>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://finance.yahoo.com/quote/AAPL\""),
        "{html}"
    );

    // A second run finds nothing due and sends nothing.
    assert_eq!(sender.run().await.unwrap(), NotifySummary::default());
    assert_eq!(smtp_received(&to).len(), 1);
}

#[tokio::test]
async fn email_over_smtp_is_retried_while_the_server_is_down_then_sent_once() {
    let test_db = TestDb::new().await;
    let to = unique_recipient();
    enqueue(&test_db, &opened(61, Channel::Email)).await;
    // A port nothing listens on: connection refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let down = smtp_notifier(&test_db, &format!("smtp://127.0.0.1:{closed}"), &to);
    let summary = down.run().await.unwrap();
    assert_eq!((summary.claimed, summary.retried), (1, 1), "{summary:?}");
    let stored = row(&test_db, "signal.opened:61:email").await;
    assert!(stored.sent_at.is_none() && stored.failed_at.is_none());
    assert!(stored.next_attempt_at > Utc::now(), "{stored:?}");
    assert!(
        stored.last_error.as_deref().unwrap().contains("SMTP"),
        "{:?}",
        stored.last_error
    );
    assert!(smtp_received(&to).is_empty());
    // Not due yet: the working server gets nothing either.
    let up = smtp_notifier(&test_db, &smtp_env("SMTP_TEST_URL"), &to);
    assert_eq!(up.run().await.unwrap(), NotifySummary::default());

    // The retry time comes (moved forward rather than waited for): delivered once.
    let client = test_db.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE notification_outbox SET next_attempt_at = now() WHERE idempotency_key = $1",
            &[&"signal.opened:61:email"],
        )
        .await
        .unwrap();
    let summary = up.run().await.unwrap();
    assert_eq!((summary.claimed, summary.sent), (1, 1), "{summary:?}");
    assert_eq!(up.run().await.unwrap(), NotifySummary::default());
    let received = smtp_received(&to);
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["key"], "signal.opened:61:email");
}

/// Issue 11, defect 2: the notify function's run fails when a message failed with a
/// retryable error (its next attempt is in the outbox, and the error metric and alarm see
/// the outage); a message given up for good is counted, and the run still succeeds.
#[tokio::test]
async fn a_notify_run_with_a_retryable_failure_fails_and_a_given_up_message_does_not() {
    let test_db = TestDb::new().await;
    let failing = receiver(500).await;
    enqueue(&test_db, &opened(30, Channel::Webhook)).await;
    let err = notifier(&test_db, format!("{}/hook", failing.uri()))
        .handle()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("retryable") && err.contains("1 retried"),
        "{err}"
    );
    assert_eq!(
        row(&test_db, "signal.opened:30:webhook")
            .await
            .message
            .attempts,
        1
    );

    let gone = receiver(410).await;
    enqueue(&test_db, &opened(31, Channel::Webhook)).await;
    let summary = notifier(&test_db, format!("{}/hook", gone.uri()))
        .handle()
        .await
        .unwrap();
    assert_eq!((summary.claimed, summary.given_up), (1, 1));
    assert_eq!(summary.counts().failed_permanent, 1);
}

/// Issue 11, defect 6: client errors that a deploy or a misconfiguration causes (401,
/// 403, 404, a redirect) are retried; only 400 and 410 (the receiver refuses this very
/// message) give up at once.
#[tokio::test]
async fn client_errors_a_deploy_causes_are_retried_and_only_400_and_410_give_up() {
    let test_db = TestDb::new().await;
    for (entity, status, gives_up) in [
        (50, 401, false),
        (51, 403, false),
        (52, 404, false),
        (53, 400, true),
        (54, 410, true),
    ] {
        let server = receiver(status).await;
        enqueue(&test_db, &opened(entity, Channel::Webhook)).await;
        let s = notifier(&test_db, format!("{}/hook", server.uri()))
            .run()
            .await
            .unwrap();
        assert_eq!(
            (s.retried, s.given_up),
            if gives_up { (0, 1) } else { (1, 0) },
            "{status}: {s:?}"
        );
    }
}

/// Issue 11, defect 6: a retryable failure is retried over a day, not 8 attempts (about
/// 2 h): a message queued 2 hours ago with 8 attempts behind it is retried; one queued
/// more than a day ago is given up.
#[tokio::test]
async fn a_message_is_retried_for_a_day_then_given_up() {
    let test_db = TestDb::new().await;
    let failing = receiver(503).await;
    for (entity, age_hours) in [(60, 2), (61, 25)] {
        enqueue(&test_db, &opened(entity, Channel::Webhook)).await;
        test_db
            .pool
            .get()
            .await
            .unwrap()
            .execute(
                "UPDATE notification_outbox SET attempts = 8, \
                     created_at = now() - $2::int8 * interval '1 hour', \
                     retry_since = now() - $2::int8 * interval '1 hour' \
                 WHERE idempotency_key = $1",
                &[
                    &format!("signal.opened:{entity}:webhook"),
                    &(age_hours as i64),
                ],
            )
            .await
            .unwrap();
    }
    let s = notifier(&test_db, format!("{}/hook", failing.uri()))
        .run()
        .await
        .unwrap();
    assert_eq!((s.claimed, s.retried, s.given_up), (2, 1, 1), "{s:?}");
    assert!(row(&test_db, "signal.opened:60:webhook")
        .await
        .failed_at
        .is_none());
    assert!(row(&test_db, "signal.opened:61:webhook")
        .await
        .failed_at
        .is_some());
}

/// Issue 11, defect 6: generate-signals and the monitor queue both channels (they do not
/// know the sender's configuration); a channel the sender has not configured is marked
/// skipped, not failed and retried 8 times, and is not claimed again.
#[tokio::test]
async fn rows_of_an_unconfigured_channel_are_skipped_not_failed() {
    let test_db = TestDb::new().await;
    let ok = receiver(200).await;
    enqueue(&test_db, &opened(70, Channel::Webhook)).await;
    enqueue(&test_db, &opened(70, Channel::Email)).await;
    let sender = notifier(&test_db, format!("{}/hook", ok.uri()));
    let s = sender.handle().await.unwrap();
    assert_eq!(
        (s.sent, s.skipped, s.retried, s.given_up),
        (1, 1, 0, 0),
        "{s:?}"
    );
    let email = row(&test_db, "signal.opened:70:email").await;
    assert!(email.skipped_at.is_some() && email.failed_at.is_none() && email.sent_at.is_none());
    assert!(email
        .last_error
        .as_deref()
        .unwrap()
        .contains("not configured"));
    assert_eq!(sender.run().await.unwrap().claimed, 0);
}

/// Issue 11, defect 6: a webhook over plain http is refused unless explicitly allowed,
/// and a redirect is never followed with the signed body (it is retried: a moved
/// receiver is a misconfiguration to fix, and the target got nothing).
#[tokio::test]
async fn plain_http_is_refused_unless_allowed_and_redirects_are_not_followed() {
    let settings = |url: &str, allow_http| WebhookSettings {
        url: url.into(),
        secret: SecretString::from(SECRET),
        timeout: Duration::from_secs(5),
        allow_http,
    };
    let err = WebhookClient::new(settings("http://hooks.example.com/tft", false)).unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    assert!(WebhookClient::new(settings("https://hooks.example.com/tft", false)).is_ok());
    assert!(WebhookClient::new(settings("ftp://hooks.example.com/tft", true)).is_err());

    let test_db = TestDb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/elsewhere", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    enqueue(&test_db, &opened(80, Channel::Webhook)).await;
    let s = notifier(&test_db, format!("{}/hook", server.uri()))
        .run()
        .await
        .unwrap();
    assert_eq!((s.sent, s.retried), (0, 1), "{s:?}");
    let elsewhere = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/elsewhere")
        .count();
    assert_eq!(elsewhere, 0, "the redirect was followed");
}

/// Issue 11, defect 6: a delivery never outlives its claim's lease (a second sender may
/// claim the row when the lease ends, and would send it again): a receiver slower than
/// the lease is abandoned and retried, not delivered late by the first sender.
#[tokio::test]
async fn a_delivery_is_abandoned_before_its_lease_ends() {
    let test_db = TestDb::new().await;
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&slow)
        .await;
    enqueue(&test_db, &opened(90, Channel::Webhook)).await;
    let sender = Notifier::new(
        test_db.pool.clone(),
        Some(webhook(
            format!("{}/hook", slow.uri()),
            Duration::from_secs(30),
        )),
        None,
        SendOptions {
            lease: Duration::from_secs(2),
            ..SendOptions::default()
        },
    );
    let s = tokio::time::timeout(Duration::from_secs(4), sender.run())
        .await
        .expect("the delivery outlived its lease")
        .unwrap();
    assert_eq!((s.sent, s.retried), (0, 1), "{s:?}");
    let stored = row(&test_db, "signal.opened:90:webhook").await;
    assert!(
        stored.last_error.as_deref().unwrap().contains("lease"),
        "{:?}",
        stored.last_error
    );
}

/// Issue 11, defect 6: the provider's message id is recorded with the send (SES on moto),
/// so an operator can match the e-mail, and `sent_at` is never left unset by a send that
/// succeeded; a given-up message can be listed and requeued (`tft outbox`).
#[tokio::test]
async fn the_provider_message_id_is_recorded_and_given_up_messages_can_be_requeued() {
    let test_db = TestDb::new().await;
    let suffix = format!("{:08x}", rand::random::<u32>());
    let from = format!("ids-{suffix}@tft.test");
    ses_v2(
        reqwest::Method::POST,
        "/v2/email/identities",
        json!({"EmailIdentity": from}),
    )
    .await;
    enqueue(&test_db, &opened(95, Channel::Email)).await;
    let email = EmailSender::from_env(EmailSettings {
        from,
        to: vec![format!("t-{suffix}@example.com")],
    })
    .await;
    let sender = Notifier::new(
        test_db.pool.clone(),
        None,
        Some(email),
        SendOptions::default(),
    );
    assert_eq!(sender.run().await.unwrap().sent, 1);
    let stored = row(&test_db, "signal.opened:95:email").await;
    assert!(stored.sent_at.is_some());
    assert!(
        stored
            .provider_message_id
            .as_deref()
            .is_some_and(|id| !id.is_empty()),
        "{stored:?}"
    );

    let gone = receiver(410).await;
    enqueue(&test_db, &opened(96, Channel::Webhook)).await;
    notifier(&test_db, format!("{}/hook", gone.uri()))
        .run()
        .await
        .unwrap();
    let client = test_db.pool.get().await.unwrap();
    let given_up = outbox::list(&**client, outbox::ListFilter::GivenUp, 50)
        .await
        .unwrap();
    assert_eq!(given_up.len(), 1);
    assert_eq!(
        given_up[0].message.idempotency_key,
        "signal.opened:96:webhook"
    );
    assert_eq!(
        outbox::requeue(&**client, &["signal.opened:96:webhook".to_string()])
            .await
            .unwrap(),
        1
    );
    let requeued = row(&test_db, "signal.opened:96:webhook").await;
    assert!(requeued.failed_at.is_none() && requeued.next_attempt_at <= Utc::now());
    let ok = receiver(200).await;
    drop(client);
    assert_eq!(
        notifier(&test_db, format!("{}/hook", ok.uri()))
            .run()
            .await
            .unwrap()
            .sent,
        1
    );
}

/// Fault injection (issue 11): the connection drops while the sender marks a delivered
/// webhook sent. The mark is retried on a fresh connection, so the message is marked
/// sent and never sent again: the receiver got it exactly once.
#[tokio::test]
async fn a_connection_dropped_while_marking_a_sent_message_does_not_resend_it() {
    let test_db = TestDb::new().await;
    let ok = receiver(200).await;
    enqueue(&test_db, &opened(97, Channel::Webhook)).await;
    test_db
        .drop_connection_once_on("notification_outbox", "UPDATE", "NEW.sent_at IS NOT NULL")
        .await;
    let sender = notifier(&test_db, format!("{}/hook", ok.uri()));
    let s = sender.run().await.unwrap();
    assert_eq!(test_db.faults_fired().await, 1);
    assert_eq!((s.sent, s.unmarked), (1, 0), "{s:?}");
    // Even once its lease is over, nothing is due again.
    test_db
        .pool
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE notification_outbox SET next_attempt_at = now()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(sender.run().await.unwrap().claimed, 0);
    assert_eq!(ok.received_requests().await.unwrap().len(), 1);
    assert!(row(&test_db, "signal.opened:97:webhook")
        .await
        .sent_at
        .is_some());
}
