//! Cold-init measurer (a benchmark, not a test; tools/bench/cold_init.sh runs it).
//!
//! For each target of a JSON config, N times (after one discarded warm-up), round robin so
//! that drift on a shared machine spreads over every target alike: binds a fresh loopback
//! port that plays the Lambda Runtime API, starts the binary with
//! `AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT` and the target's environment, and times process
//! start (just before `spawn`) to the moment its first `GET
//! /2018-06-01/runtime/invocation/next` has arrived; then kills it. The function's init
//! log (JSON, `AWS_LAMBDA_LOG_FORMAT=JSON`) gives `db_connect_ms` and `secrets_ms`
//! (shared/src/jobs/init.rs), reported apart.
//!
//! ```text
//! measure --config targets.json [--runs 20] [--json out.json] [--timeout-secs 30]
//! ```
//! Config: `{"baseline": "hello", "targets": [{"name": "hello", "binary": "/path",
//! "env": {"K": "V"}, "unset": ["K"]}, ...]}`. Prints a markdown table; exits non-zero
//! when a target never polled (init error or exit), with what it printed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Target {
    name: String,
    binary: String,
    env: BTreeMap<String, String>,
    unset: Vec<String>,
}

/// One start of one binary.
#[derive(Default, Clone)]
struct Run {
    start_to_poll_ms: f64,
    db_connect_ms: Option<f64>,
    secrets_ms: Option<f64>,
}

/// What the emulator saw first on the runtime API.
enum Seen {
    Poll(Instant),
    Other(String, String),
}

fn main() {
    if let Err(e) = run() {
        eprintln!("measure: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let opt = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let Some(config_path) = opt("--config") else {
        eprintln!("usage: measure --config FILE [--runs N] [--json OUT] [--timeout-secs S]");
        std::process::exit(2);
    };
    let number = |flag: &str, default: u64| -> Result<u64, String> {
        opt(flag).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{flag} takes a number, not {v:?}"))
        })
    };
    let runs = number("--runs", 20)? as usize;
    let timeout = Duration::from_secs(number("--timeout-secs", 30)?);
    let (baseline, targets) = read_config(&config_path)?;
    let results = measure(&targets, runs, timeout)?;
    let base_index = targets
        .iter()
        .position(|t| t.name == baseline)
        .ok_or_else(|| format!("the baseline {baseline:?} is not one of the targets"))?;
    let base = median(
        &results[base_index]
            .iter()
            .map(|r| r.start_to_poll_ms)
            .collect::<Vec<_>>(),
    );
    let out = report(&targets, &results, &baseline, base, runs);
    if let Some(path) = opt("--json") {
        let doc =
            json!({"baseline": baseline, "baseline_median_ms": base, "runs": runs, "targets": out});
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("writing {path}: {e}"))?;
    }
    Ok(())
}

/// The baseline's name and the targets of a config file.
fn read_config(path: &str) -> Result<(String, Vec<Target>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    let config: Value =
        serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))?;
    let baseline = config["baseline"].as_str().unwrap_or("hello").to_string();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let targets = config["targets"]
        .as_array()
        .ok_or_else(|| format!("{path}: no `targets: [...]`"))?
        .iter()
        .map(|t| {
            let field = |name: &str| {
                t[name]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{path}: a target without `{name}`"))
            };
            Ok(Target {
                name: field("name")?,
                binary: field("binary")?,
                env: t["env"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                unset: strings(&t["unset"]),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((baseline, targets))
}

/// `runs` starts of every target, round robin, after one discarded warm-up round (page
/// cache, moto's and PgBouncer's first answers).
fn measure(targets: &[Target], runs: usize, timeout: Duration) -> Result<Vec<Vec<Run>>, String> {
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); targets.len()];
    for round in 0..=runs {
        for (i, target) in targets.iter().enumerate() {
            let run = start_once(target, timeout)
                .map_err(|e| format!("{} (round {round}): {e}", target.name))?;
            if round > 0 {
                results[i].push(run);
            }
        }
        eprint!("\rmeasure: round {round}/{runs}");
    }
    eprintln!();
    Ok(results)
}

/// Prints the markdown table and returns each target's figures for `--json`.
fn report(
    targets: &[Target],
    results: &[Vec<Run>],
    baseline: &str,
    base: f64,
    runs: usize,
) -> Vec<Value> {
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1}"));
    println!(
        "Cold init, process start -> first runtime poll, {runs} runs each (median / p90, ms); \
         ratios are medians over the baseline's median ({baseline}: {base:.2} ms)\n"
    );
    println!("| binary | start→poll median | p90 | db_connect_ms median | secrets_ms median | ratio | ratio without db | ratio without db and secrets |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut out = Vec::new();
    for (t, rs) in targets.iter().zip(results) {
        let total: Vec<f64> = rs.iter().map(|r| r.start_to_poll_ms).collect();
        let db: Vec<f64> = rs.iter().filter_map(|r| r.db_connect_ms).collect();
        let secrets: Vec<f64> = rs.iter().filter_map(|r| r.secrets_ms).collect();
        // Per run: the time less that run's own database connect (and secret reads).
        let no_db: Vec<f64> = rs
            .iter()
            .map(|r| r.start_to_poll_ms - r.db_connect_ms.unwrap_or(0.0))
            .collect();
        let no_db_secrets: Vec<f64> = rs
            .iter()
            .map(|r| {
                r.start_to_poll_ms - r.db_connect_ms.unwrap_or(0.0) - r.secrets_ms.unwrap_or(0.0)
            })
            .collect();
        let (m, p) = (median(&total), p90(&total));
        let db_m = (!db.is_empty()).then(|| median(&db));
        let secrets_m = (!secrets.is_empty()).then(|| median(&secrets));
        let ratio = m / base;
        let ratio_no_db = median(&no_db) / base;
        let ratio_no_db_secrets = median(&no_db_secrets) / base;
        println!(
            "| {} | {m:.1} | {p:.1} | {} | {} | {ratio:.2}× | {ratio_no_db:.2}× | {ratio_no_db_secrets:.2}× |",
            t.name,
            fmt(db_m),
            fmt(secrets_m),
        );
        out.push(json!({
            "name": t.name, "runs": rs.len(),
            "start_to_poll_ms": {"median": m, "p90": p, "all": total},
            "db_connect_ms": {"median": db_m, "all": db},
            "secrets_ms": {"median": secrets_m, "all": secrets},
            "ratio": ratio, "ratio_without_db": ratio_no_db,
            "ratio_without_db_and_secrets": ratio_no_db_secrets,
        }));
    }
    out
}

/// Starts `target` once and times its first poll.
fn start_once(target: &Target, timeout: Duration) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel::<Seen>();
    // The emulator: reads the first request's head and says what it was, with the time
    // it arrived. A connection without a request (ours, below) ends it.
    let server = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let arrived = Instant::now();
            if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                let _ = tx.send(Seen::Poll(arrived));
            } else {
                // An init error (POST /runtime/init/error): its body says why.
                let mut length = 0;
                let mut header = String::new();
                while reader.read_line(&mut header).unwrap_or(0) > 2 {
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    header.clear();
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let _ = reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
                let _ = tx.send(Seen::Other(
                    line.trim().to_string(),
                    String::from_utf8_lossy(&body).into(),
                ));
            }
        }
    });

    let mut command = Command::new(&target.binary);
    for k in &target.unset {
        command.env_remove(k);
    }
    command
        .envs(&target.env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("start {}: {e}", target.binary))?;
    // stderr drained on a thread, so a chatty init never blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("piped");
    let printed = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let deadline = started + timeout;
    let seen = loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(seen) => break Some(seen),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
        }
        if let Ok(Some(_)) = child.try_wait() {
            // It may have polled just before exiting; one last look.
            break rx.recv_timeout(Duration::from_millis(50)).ok();
        }
        if Instant::now() > deadline {
            break None;
        }
    };
    let _ = child.kill();
    let status = child.wait().ok();
    let _ = TcpStream::connect(addr); // wakes the emulator if it still waits
    let _ = server.join();
    let printed = printed.join().unwrap_or_default();

    match seen {
        Some(Seen::Poll(at)) => {
            let mut run = Run {
                start_to_poll_ms: (at - started).as_secs_f64() * 1e3,
                ..Run::default()
            };
            for line in printed.lines() {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    if let Some(ms) = v.get("db_connect_ms").and_then(Value::as_f64) {
                        run.db_connect_ms = Some(ms);
                    }
                    if let Some(ms) = v.get("secrets_ms").and_then(Value::as_f64) {
                        run.secrets_ms = Some(ms);
                    }
                    if v.get("message").and_then(Value::as_str)
                        == Some("database not reachable at init; will retry per invocation")
                    {
                        return Err(format!(
                            "the database was not reachable at init:\n{printed}"
                        ));
                    }
                }
            }
            Ok(run)
        }
        Some(Seen::Other(request, body)) => {
            Err(format!("{request} instead of a poll: {body}\n{printed}"))
        }
        None => match status {
            Some(status) if Instant::now() <= deadline => Err(format!(
                "exited during init ({status}) without polling:\n{printed}"
            )),
            _ => Err(format!("no poll within {timeout:?}:\n{printed}")),
        },
    }
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn median(v: &[f64]) -> f64 {
    let v = sorted(v);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Nearest rank.
fn p90(v: &[f64]) -> f64 {
    let v = sorted(v);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
