//! The Python fold server (`models/tft_models/folds.py`), one long-lived process per
//! walk-forward run: `uv run --locked python -m tft_models.folds --features CSV` in the
//! models project. It reads the exported feature CSV once, then answers one JSON line on
//! stdout per JSON request line on stdin (logs go to stderr, shown as they come); EOF on
//! stdin ends it.
//!
//! request  `{"id", "out", "train_from", "train_to", "calibrate_from", "calibrate_to",
//!           "warm_start": null | dir, "params": {"xgb_rounds", "lgb_rounds", "lstm_epochs",
//!           "lstm_samples", "max_train_rows"}}`
//! response `{"id", "ok": true, "version", "dir", "metrics", "seconds"}` or
//!          `{"id", "ok": false, "error"}`.
//!
//! Nothing but uv has to be prepared: the environment is created from `uv.lock` by
//! `uv sync --locked` before the server starts, and a missing uv, a failed sync or a models
//! project without the server are errors that say what is missing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Training settings sent with every fold (part of the fold's cache key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldParams {
    pub xgb_rounds: u32,
    pub lgb_rounds: u32,
    pub lstm_epochs: u32,
    pub lstm_samples: u32,
    pub max_train_rows: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct FoldRequest {
    pub id: String,
    pub out: PathBuf,
    pub train_from: NaiveDate,
    pub train_to: NaiveDate,
    pub calibrate_from: NaiveDate,
    pub calibrate_to: NaiveDate,
    pub warm_start: Option<PathBuf>,
    pub params: FoldParams,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FoldResponse {
    pub id: String,
    pub ok: bool,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub metrics: serde_json::Value,
    #[serde(default)]
    pub seconds: serde_json::Value,
    #[serde(default)]
    pub error: Option<String>,
}

pub const UV_INSTALL: &str = "install it with `curl -LsSf https://astral.sh/uv/install.sh | sh` \
     (or `pipx install uv`, `pip install uv`), then run the command again";

/// The server's module inside the models project.
pub const SERVER_MODULE: &str = "tft_models.folds";

/// How to start the server: through uv (the default), or a given program (tests).
#[derive(Debug, Clone)]
pub enum Launcher {
    Uv,
    Program(PathBuf),
}

pub struct FoldServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    what: String,
}

/// Checks that `project` is a models project with the fold server.
pub fn check_project(project: &Path) -> anyhow::Result<()> {
    for needed in ["pyproject.toml", "uv.lock", "tft_models/folds.py"] {
        if !project.join(needed).is_file() {
            bail!(
                "{} has no {needed}: --walk-forward trains through the models project (the \
                 repository's models/ directory, with its fold server tft_models/folds.py); run \
                 from the repository root or pass --models-project DIR",
                project.display()
            );
        }
    }
    Ok(())
}

/// `uv sync --locked` in the project: the models environment from its lock file.
fn sync(project: &Path) -> anyhow::Result<()> {
    match Command::new("uv").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => bail!(
            "`uv --version` failed ({}): walk-forward trains its folds with the models project's \
             Python environment, created by uv; {UV_INSTALL}",
            out.status
        ),
        Err(e) => bail!(
            "uv is not installed or not on PATH ({e}): walk-forward trains its folds with the \
             models project's Python environment, which uv creates from models/uv.lock; {UV_INSTALL}"
        ),
    }
    tracing::info!(project = %project.display(), "uv sync --locked");
    let status = Command::new("uv")
        .args(["sync", "--locked"])
        .current_dir(project)
        .stdout(Stdio::null())
        .status()
        .context("running uv sync --locked")?;
    if !status.success() {
        bail!(
            "`uv sync --locked` failed in {} ({status}): the models environment could not be \
             created from uv.lock (see uv's message above: a Python uv cannot fetch, no network \
             for the wheels, or a lock file out of date with pyproject.toml)",
            project.display()
        );
    }
    Ok(())
}

impl FoldServer {
    /// Starts the server on `features` (an absolute path) in `project`.
    pub fn start(launcher: &Launcher, project: &Path, features: &Path) -> anyhow::Result<Self> {
        let mut cmd = match launcher {
            Launcher::Uv => {
                check_project(project)?;
                sync(project)?;
                let mut c = Command::new("uv");
                c.args(["run", "--locked", "python", "-m", SERVER_MODULE]);
                c
            }
            Launcher::Program(p) => Command::new(p),
        };
        cmd.arg("--features")
            .arg(features)
            .current_dir(project)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let what = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting the fold server: {what}"))?;
        let stdin = child.stdin.take().context("fold server stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("fold server stdout")?);
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout,
            what,
        })
    }

    /// Sends one fold and waits for its answer.
    pub fn train(&mut self, request: &FoldRequest) -> anyhow::Result<FoldResponse> {
        let mut line = serde_json::to_string(request)?;
        line.push('\n');
        let stdin = self.stdin.as_mut().context("fold server stdin closed")?;
        if let Err(e) = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
        {
            let status = self.child.try_wait().ok().flatten();
            bail!(
                "the fold server stopped before fold {} ({e}; exit {status:?}): {}",
                request.id,
                self.what
            );
        }
        loop {
            let mut answer = String::new();
            let n = self
                .stdout
                .read_line(&mut answer)
                .context("reading the fold server's answer")?;
            if n == 0 {
                let status = self.child.wait().ok();
                bail!(
                    "the fold server exited while training fold {} (exit {status:?}; its error is \
                     above): {}",
                    request.id,
                    self.what
                );
            }
            let answer = answer.trim();
            if !answer.starts_with('{') {
                // Only JSON belongs on stdout; anything else is a stray log line.
                tracing::warn!(line = answer, "fold server wrote a non-JSON line on stdout");
                continue;
            }
            let response: FoldResponse = serde_json::from_str(answer)
                .with_context(|| format!("the fold server's answer is not a response: {answer}"))?;
            if response.id != request.id {
                bail!(
                    "the fold server answered {} to request {}",
                    response.id,
                    request.id
                );
            }
            if !response.ok {
                bail!(
                    "fold {} failed in the fold server: {}",
                    request.id,
                    response.error.as_deref().unwrap_or("(no error message)")
                );
            }
            return Ok(response);
        }
    }
}

impl Drop for FoldServer {
    /// EOF on stdin ends the server; wait for it so no process outlives the run.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}
