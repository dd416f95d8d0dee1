//! Helpers for the integration tests: a fresh PostgreSQL database per test (on the
//! cluster `infra/test-env.sh` starts), the app's clients pointed at local stand-ins,
//! and fixture loading. `spawn_app` builds what a Lambda container builds at init.

use std::path::PathBuf;

use secrecy::ExposeSecret;
use shared::adapters::db;
use shared::adapters::db::Pool;
use shared::config::{DatabaseConfig, EnvSource, ProcessEnv};

/// Where the recorded fixtures live.
pub fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

pub fn read_fixture(relative: &str) -> String {
    let path = fixture_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the integration tests through `make test` \
             (infra/test-env.sh starts PostgreSQL, PgBouncer and moto)"
        )
    })
}

/// Replaces the database name in a libpq URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("//").map_or(0, |j| j + 1) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{database}?{q}"),
        None => format!("{prefix}/{database}"),
    }
}

/// The database settings a function would read from this environment, for `url`: the
/// same parsing, so the harness's `DATABASE_ALLOW_PLAINTEXT=1` (its cluster and PgBouncer
/// speak plaintext on 127.0.0.1) and any `DATABASE_*` setting apply as in production.
pub fn database_config(url: &str, max_connections: usize) -> DatabaseConfig {
    struct WithUrl<'a>(&'a str);
    impl EnvSource for WithUrl<'_> {
        fn get(&self, name: &str) -> Option<String> {
            match name {
                "DATABASE_URL" => Some(self.0.to_string()),
                _ => ProcessEnv.get(name),
            }
        }
    }
    DatabaseConfig {
        max_connections,
        ..DatabaseConfig::from_env(&WithUrl(url)).expect("the DATABASE_* settings")
    }
}

/// A database of its own for one test, migrated, with a pool on it.
pub struct TestDb {
    pub name: String,
    pub database: DatabaseConfig,
    pub pool: Pool,
}

impl TestDb {
    /// Creates `test_<random>` on the cluster of `DATABASE_URL` and migrates it.
    pub async fn new() -> Self {
        Self::new_on(&required_env("DATABASE_URL")).await
    }

    /// [`Self::new`] on the cluster of `admin_url` (a [`PrivateCluster`]).
    pub async fn new_on(admin_url: &str) -> Self {
        let admin_url = admin_url.to_string();
        let name = format!("test_{:016x}", rand::random::<u64>());
        let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        admin
            .simple_query(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let database = database_config(&with_database(&admin_url, &name), 8);
        db::migrate(&database)
            .await
            .expect("migrate the test database");
        let pool = db::connect_pool(&database).expect("pool");
        Self {
            name,
            database,
            pool,
        }
    }

    /// This database through PgBouncer (transaction mode).
    pub fn through_pgbouncer(&self, max_connections: usize) -> DatabaseConfig {
        database_config(
            &with_database(&required_env("PGBOUNCER_URL"), &self.name),
            max_connections,
        )
    }

    pub fn url(&self) -> &str {
        self.database.url.expose_secret()
    }

    /// Fault injection: the first write to `table` of a row matching `condition` (a
    /// trigger `WHEN` clause over `NEW`) terminates the writing connection from inside
    /// its transaction, as a database failover or a network cut would; later writes pass.
    /// A sequence counts the firing: it is not rolled back with the killed transaction.
    pub async fn drop_connection_once_on(&self, table: &str, ops: &str, condition: &str) {
        let sql = format!(
            "CREATE SEQUENCE IF NOT EXISTS fault_fired; \
             CREATE OR REPLACE FUNCTION fault_drop_connection() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF nextval('fault_fired') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; \
               RETURN NEW; \
             END $$; \
             CREATE TRIGGER fault_on_{table} BEFORE {ops} ON {table} FOR EACH ROW WHEN ({condition}) \
             EXECUTE FUNCTION fault_drop_connection();"
        );
        self.pool
            .get()
            .await
            .expect("a connection")
            .batch_execute(&sql)
            .await
            .expect("install the fault trigger");
    }

    /// Whether the injected fault fired (0 or 1; the trigger may match again after it).
    pub async fn faults_fired(&self) -> i64 {
        self.pool
            .get()
            .await
            .expect("a connection")
            .query_one(
                "SELECT CASE WHEN is_called THEN LEAST(last_value, 1) ELSE 0 END FROM fault_fired",
                &[],
            )
            .await
            .expect("the fault sequence")
            .get(0)
    }

    /// Terminates every connection to this database (from the cluster's admin
    /// connection), as a PostgreSQL restart does to a warm pool.
    pub async fn terminate_all_connections(&self) -> i64 {
        let admin_url = required_env("DATABASE_URL");
        let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        let killed: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .expect("terminate the connections")
            .get(0);
        killed
    }
}

/// The local AWS stand-in (moto server) the harness started.
pub fn aws_endpoint() -> String {
    required_env("AWS_ENDPOINT_URL")
}

/// An EventBridge client on moto (the functions' SDK configuration and HTTPS client).
pub async fn eventbridge_client() -> aws_sdk_eventbridge::Client {
    let config = shared::adapters::aws::load().await;
    aws_sdk_eventbridge::Client::new(&config)
}

/// A bus of its own for one test, with a rule that copies every event of the project's
/// source into an SQS queue on moto, so the test can read what was published.
pub struct CapturedBus {
    pub bus_name: String,
    queue_url: String,
    http: reqwest::Client,
}

impl CapturedBus {
    pub async fn new(client: &aws_sdk_eventbridge::Client) -> Self {
        let suffix = format!("{:08x}", rand::random::<u32>());
        let bus_name = format!("tft-test-{suffix}");
        let http = reqwest::Client::new();
        let queue_name = format!("captured-{suffix}");
        let created = sqs(
            &http,
            "CreateQueue",
            serde_json::json!({"QueueName": queue_name}),
        )
        .await;
        let queue_url = created["QueueUrl"].as_str().expect("QueueUrl").to_string();
        let attrs = sqs(
            &http,
            "GetQueueAttributes",
            serde_json::json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
        )
        .await;
        let queue_arn = attrs["Attributes"]["QueueArn"]
            .as_str()
            .expect("QueueArn")
            .to_string();

        client
            .create_event_bus()
            .name(&bus_name)
            .send()
            .await
            .expect("create bus");
        client
            .put_rule()
            .event_bus_name(&bus_name)
            .name("capture-all")
            .event_pattern(format!(
                r#"{{"source":["{}"]}}"#,
                shared::adapters::eventbridge::EVENT_SOURCE
            ))
            .send()
            .await
            .expect("put rule");
        client
            .put_targets()
            .event_bus_name(&bus_name)
            .rule("capture-all")
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("put targets");
        Self {
            bus_name,
            queue_url,
            http,
        }
    }

    /// Every event delivered so far (the full EventBridge envelope as JSON).
    pub async fn drain(&self) -> Vec<serde_json::Value> {
        let mut events = Vec::new();
        loop {
            let received = sqs(
                &self.http,
                "ReceiveMessage",
                serde_json::json!({"QueueUrl": self.queue_url, "MaxNumberOfMessages": 10}),
            )
            .await;
            let Some(messages) = received["Messages"].as_array().filter(|m| !m.is_empty()) else {
                return events;
            };
            for m in messages {
                let body = m["Body"].as_str().expect("Body");
                events.push(serde_json::from_str(body).expect("event JSON"));
                sqs(
                    &self.http,
                    "DeleteMessage",
                    serde_json::json!({"QueueUrl": self.queue_url, "ReceiptHandle": m["ReceiptHandle"]}),
                )
                .await;
            }
        }
    }
}

/// One call of SQS's JSON protocol on moto (the test reads the queue; the product never does).
async fn sqs(http: &reqwest::Client, action: &str, body: serde_json::Value) -> serde_json::Value {
    let response = http
        .post(aws_endpoint())
        .header("X-Amz-Target", format!("AmazonSQS.{action}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        // moto routes a request by the service in the credential scope; it checks no signature.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("SQS {action}: {e}"));
    let status = response.status();
    let text = response.text().await.expect("SQS body");
    assert!(status.is_success(), "SQS {action} -> {status}: {text}");
    if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("SQS {action} body {text:?}: {e}"))
    }
}

/// A PostgreSQL cluster of one test's own (initdb in a temporary directory, on a free
/// port, plaintext on 127.0.0.1), for what the shared cluster must not suffer: a restart.
/// Stopped on drop.
pub struct PrivateCluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl PrivateCluster {
    /// initdb + start (a few seconds).
    pub fn start() -> Self {
        let bin = PathBuf::from(required_env("TEST_PG_BIN"));
        let dir =
            std::env::temp_dir().join(format!("tft-private-pg-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self { dir, port, bin };
        if is_root() {
            run(std::process::Command::new("chown")
                .arg("postgres")
                .arg(&cluster.dir));
        }
        run(cluster
            .as_postgres("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-D",
            ])
            .arg(cluster.dir.join("data")));
        cluster.pg_ctl("start");
        cluster
    }

    /// `pg_ctl restart -m fast`: every connection is dropped, the server comes back.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// The admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    fn as_postgres(&self, program: &str) -> std::process::Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        }
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        run(self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "30", "-m", "fast", "-o", &options, action]));
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(command: &mut std::process::Command) {
    let out = command.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5/postgres?sslmode=disable", "t1"),
            "postgres://u@127.0.0.1:5/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h/db", "t2"),
            "postgres://u@h/t2"
        );
    }
}
