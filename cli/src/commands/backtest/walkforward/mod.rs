//! `tft backtest --walk-forward`: the ensemble retrained through `models/` every
//! `--retrain-every` weeks on data strictly before each fold (the schedule:
//! `shared::core::backtest::walkforward`), each fold's bundle verified and served like the
//! committed one, and ONE engine run over the whole test window with each day predicted by
//! its fold's model (positions carried across folds).
//!
//! 1. The features of the whole span (the first fold's `train_from` to the last trade day)
//!    are exported once, by the code `tft features export` runs, into the cache;
//! 2. each fold is looked up in the cache ([`cache`]); a miss is trained by the Python fold
//!    server ([`server`], started at the first miss only), warm-started from the previous
//!    fold's bundle;
//! 3. every fold's bundle is loaded with `ensemble::Ensemble` (sha256 of every file, the
//!    feature schema, tract against the bundle's goldens) and served by a
//!    `FoldPredictor`.

pub mod cache;
pub mod server;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use ensemble::store::ModelStore;
use ensemble::Ensemble;
use serde::Serialize;
use shared::core::backtest::walkforward::{
    self, train_folds, Fold, FoldTrainer, WalkForwardConfig, LABEL_READS_TRADING_DAYS,
};
use shared::core::backtest::BacktestRun;
use shared::core::exits::TradeRules;
use shared::core::features::training::training_set;
use shared::core::features::Market;
use shared::core::nyse;

use self::cache::{ExportDigest, StoredFold};
use self::server::{FoldParams, FoldRequest, FoldServer, Launcher};
use super::load::Inputs;
use super::replay::Recording;
use super::BacktestArgs;

#[derive(Args, Debug, Clone)]
pub struct WalkForwardArgs {
    /// Retrain the ensemble through the models project every --retrain-every weeks, each
    /// fold on data strictly before its first trading day (docs/backtest.md); needs uv.
    #[arg(long)]
    pub walk_forward: bool,
    /// Weeks between retrain dates (walk-forward).
    #[arg(long, value_name = "WEEKS", default_value_t = 4)]
    pub retrain_every: u32,
    /// Years of training data before each fold's calibration slice (walk-forward).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub train_years: u32,
    /// Calendar months of each fold's calibration slice (walk-forward).
    #[arg(long, value_name = "MONTHS", default_value_t = 3)]
    pub calibrate_months: u32,
    /// The models project (pyproject.toml, uv.lock, tft_models/) that trains the folds.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub models_project: PathBuf,
    /// Where the feature export and the trained folds are kept between runs
    /// (default: $XDG_CACHE_HOME/tft or ~/.cache/tft).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// XGBoost boosting rounds per fold.
    #[arg(long, default_value_t = 100)]
    pub xgb_rounds: u32,
    /// LightGBM boosting rounds per fold.
    #[arg(long, default_value_t = 200)]
    pub lgb_rounds: u32,
    /// LSTM epochs of the first fold (trained from scratch).
    #[arg(long, default_value_t = 4)]
    pub lstm_epochs: u32,
    /// LSTM epochs of every later fold that trains its LSTM (warm-started from the
    /// previous fold's LSTM).
    #[arg(long, default_value_t = 1)]
    pub lstm_warm_epochs: u32,
    /// Train the LSTM on every Nth fold only (1: every fold). The folds between keep their
    /// parent's LSTM unchanged (0 epochs) and refit only its calibration on their own
    /// slice; the trees are refit on every fold. 3 with `--retrain-every 4`: a quarterly
    /// LSTM with monthly trees (docs/backtest.md, "Speed").
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub lstm_every: u32,
    /// LSTM training windows drawn per epoch (0: all).
    #[arg(long, default_value_t = 120_000)]
    pub lstm_samples: u32,
    /// Train each fold on a seeded random subset of N of its training rows, the same rows
    /// for every model (0: all of them).
    #[arg(long, default_value_t = 0)]
    pub max_train_rows: u32,
    /// Run this program (with `--features CSV`) as the fold server instead of uv (tests).
    #[arg(long, value_name = "PROGRAM", hide = true)]
    pub fold_server: Option<PathBuf>,
}

impl WalkForwardArgs {
    pub fn config(&self) -> WalkForwardConfig {
        WalkForwardConfig {
            retrain_every_weeks: self.retrain_every,
            train_years: self.train_years,
            calibrate_months: self.calibrate_months,
            ..WalkForwardConfig::default()
        }
    }

    /// The parameters of fold `index` (the first is trained cold).
    pub fn params(&self, index: usize) -> FoldParams {
        FoldParams {
            xgb_rounds: self.xgb_rounds,
            lgb_rounds: self.lgb_rounds,
            lstm_epochs: if index == 0 {
                self.lstm_epochs
            } else if index.is_multiple_of(self.lstm_every.max(1) as usize) {
                self.lstm_warm_epochs
            } else {
                0
            },
            lstm_samples: self.lstm_samples,
            max_train_rows: self.max_train_rows,
        }
    }

    fn cache_root(&self) -> anyhow::Result<PathBuf> {
        let root = match &self.cache {
            Some(dir) => dir.clone(),
            None => std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("tft"))
                .context("no --cache DIR, and neither XDG_CACHE_HOME nor HOME is set")?,
        };
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        std::path::absolute(&root).with_context(|| format!("resolving {}", root.display()))
    }
}

/// The feature export every fold reads.
#[derive(Debug, Clone, Serialize)]
pub struct ExportInfo {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: usize,
    pub tickers: usize,
    pub sha256: String,
}

/// A fold's bundle as the trainer left it (trained now or found in the cache).
#[derive(Debug, Clone)]
pub struct FoldBundle {
    pub stored: StoredFold,
    /// The fold's model store root (`<cache>/folds/<key>`).
    pub store: PathBuf,
    /// The bundle directory (the next fold's warm start).
    pub dir: PathBuf,
    pub cached: bool,
}

/// The real [`FoldTrainer`]: the fold cache in front of the Python fold server.
struct ServerTrainer<'a> {
    args: &'a WalkForwardArgs,
    cache: PathBuf,
    project: PathBuf,
    features: PathBuf,
    export: ExportDigest,
    code: String,
    server: Option<FoldServer>,
    folds: usize,
    quiet: bool,
}

impl FoldTrainer for ServerTrainer<'_> {
    type Model = FoldBundle;
    type Error = anyhow::Error;

    fn train(&mut self, fold: &Fold, parent: Option<&FoldBundle>) -> anyhow::Result<FoldBundle> {
        let started = Instant::now();
        let params = self.args.params(fold.index);
        let parent_key = parent.map(|p| p.stored.key.as_str());
        let key = cache::fold_key(&self.export, fold, &params, &self.code, parent_key);
        let store = cache::fold_dir(&self.cache, &key);
        if let Some(stored) = cache::lookup(&self.cache, &key) {
            let dir = store.join("ensemble").join(&stored.version);
            if dir.join("manifest.json").is_file() {
                self.progress(fold, &stored.version, "from the cache", started);
                return Ok(FoldBundle {
                    stored,
                    store,
                    dir,
                    cached: true,
                });
            }
        }
        if self.server.is_none() {
            let launcher = match &self.args.fold_server {
                Some(p) => Launcher::Program(p.clone()),
                None => Launcher::Uv,
            };
            self.server = Some(FoldServer::start(&launcher, &self.project, &self.features)?);
        }
        let incoming = store.join("incoming");
        if incoming.exists() {
            std::fs::remove_dir_all(&incoming)?;
        }
        std::fs::create_dir_all(&store)?;
        let request = FoldRequest {
            id: format!("fold-{}-{}", fold.index, &key[..12]),
            out: incoming.clone(),
            train_from: fold.train_from,
            train_to: fold.train_to,
            calibrate_from: fold.calibrate_from,
            calibrate_to: fold.calibrate_to,
            warm_start: parent.map(|p| p.dir.clone()),
            params,
        };
        let server = self
            .server
            .as_mut()
            .context("the fold server did not start")?;
        let response = server.train(&request)?;
        let version = response
            .version
            .clone()
            .context("the fold server's answer has no version")?;
        let written = response.dir.clone().unwrap_or(incoming);
        let stored = StoredFold {
            key,
            parent: parent_key.map(str::to_string),
            version,
            metrics: response.metrics,
            seconds: response.seconds,
        };
        let dir = cache::store(&self.cache, &stored, &written)?;
        self.progress(fold, &stored.version, "trained", started);
        Ok(FoldBundle {
            stored,
            store,
            dir,
            cached: false,
        })
    }
}

impl ServerTrainer<'_> {
    fn progress(&self, fold: &Fold, version: &str, how: &str, started: Instant) {
        if !self.quiet {
            eprintln!(
                "fold {}/{}: trades {}..={}, trained on {}..={} + calibration {}..={}: {version} {how} ({:.1} s)",
                fold.index + 1,
                self.folds,
                fold.trade_from,
                fold.trade_to,
                fold.train_from,
                fold.train_to,
                fold.calibrate_from,
                fold.calibrate_to,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// A trained fold, loaded for serving.
pub struct ServedFold {
    pub fold: Fold,
    pub bundle: FoldBundle,
    pub ensemble: Ensemble,
}

/// Everything the walk-forward trained and serves.
pub struct WalkForward {
    pub config: WalkForwardConfig,
    pub export: ExportInfo,
    pub folds: Vec<ServedFold>,
    /// The models of every bundle, in the ensemble's order.
    pub names: Vec<String>,
    pub seconds_training: f64,
}

impl WalkForward {
    /// The version recorded on every prediction: one name for the whole walk.
    pub fn version(&self) -> String {
        format!(
            "walk-forward {} folds {}..{}",
            self.folds.len(),
            self.folds
                .first()
                .map_or("", |f| f.bundle.stored.version.as_str()),
            self.folds
                .last()
                .map_or("", |f| f.bundle.stored.version.as_str())
        )
    }

    /// Each fold's ensemble as a recording predictor (the single-model baselines replay it).
    pub fn recordings(&self) -> Vec<(Fold, Recording<'_>)> {
        self.folds
            .iter()
            .map(|f| (f.fold, Recording::new(&f.ensemble)))
            .collect()
    }

    pub fn trained_now(&self) -> usize {
        self.folds.iter().filter(|f| !f.bundle.cached).count()
    }
}

/// Writes the feature export of `from..=to` into the cache (the code `tft features
/// export` runs) and returns its path, identity and size.
fn export_features(
    inputs: &Inputs,
    from: NaiveDate,
    to: NaiveDate,
    cache_root: &Path,
) -> anyhow::Result<(PathBuf, ExportDigest, ExportInfo)> {
    let since = from.checked_sub_days(chrono::Days::new(14)).unwrap_or(from);
    let sentiment = inputs.raw.daily_sentiment(since, to);
    // The universe is the price directory's tickers (as the backtest's MarketData ranks
    // over), the benchmark the backtest's; labels are the live exits.
    let market = Market::new(
        inputs.raw.benchmark.clone(),
        inputs.raw.prices.iter().map(|(t, _)| t.clone()),
    );
    let (rows, info) = training_set(
        &inputs.raw.prices,
        &sentiment,
        &market,
        from,
        to,
        &TradeRules::default(),
    );
    anyhow::ensure!(
        !rows.is_empty(),
        "no labelled feature row between {from} and {to}: the price files start too late for \
         the first fold's training years (try --train-years 1 or a later --from)"
    );
    let dir = cache_root.join("exports");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("incoming-{}.csv", std::process::id()));
    crate::commands::features::write_files(&tmp, &rows, &info)?;
    let digest = cache::digest_export(&tmp)?;
    let path = dir.join(format!("{}.csv", digest.sha256));
    std::fs::rename(&tmp, &path)?;
    std::fs::rename(
        tmp.with_extension("meta.json"),
        path.with_extension("meta.json"),
    )?;
    let export = ExportInfo {
        from,
        to,
        rows: rows.len(),
        tickers: info.tickers,
        sha256: digest.sha256.clone(),
    };
    Ok((path, digest, export))
}

/// Schedules, trains (or finds) and loads every fold of `args`' test window.
pub async fn prepare(args: &BacktestArgs, inputs: &Inputs) -> anyhow::Result<WalkForward> {
    let started = Instant::now();
    let wf = &args.walk;
    let config = wf.config();
    let folds = walkforward::schedule(args.from, args.to, &config)
        .context("scheduling the walk-forward folds")?;
    let project = std::path::absolute(&wf.models_project)
        .with_context(|| format!("resolving {}", wf.models_project.display()))?;
    if wf.fold_server.is_none() {
        server::check_project(&project)?;
    }
    let code = cache::code_version(&project)?;
    let cache_root = wf.cache_root()?;
    let span_to = folds.last().map_or(args.to, |f| f.trade_to);
    let (features, digest, export) =
        export_features(inputs, folds[0].train_from, span_to, &cache_root)?;
    if !args.quiet {
        eprintln!(
            "walk-forward: {} folds, features {}..={} ({} rows, {} tickers) in {}",
            folds.len(),
            export.from,
            export.to,
            export.rows,
            export.tickers,
            features.display()
        );
    }
    let mut trainer = ServerTrainer {
        args: wf,
        cache: cache_root,
        project,
        features,
        export: digest,
        code,
        server: None,
        folds: folds.len(),
        quiet: args.quiet,
    };
    let trained = train_folds(&mut trainer, &folds)?;
    drop(trainer); // EOF to the server: it exits before serving starts.
    let seconds_training = started.elapsed().as_secs_f64();
    let mut served = Vec::with_capacity(trained.len());
    for (fold, bundle) in trained {
        let loaded = ModelStore::Local(bundle.store.clone())
            .load(&bundle.stored.version)
            .await
            .map_err(anyhow::Error::from)
            .and_then(|b| Ensemble::from_bundle(&b).map_err(anyhow::Error::from))
            .with_context(|| {
                format!(
                    "fold {} bundle {} in {} does not verify (delete that directory to retrain it)",
                    fold.index,
                    bundle.stored.version,
                    bundle.store.display()
                )
            })?;
        served.push(ServedFold {
            fold,
            bundle,
            ensemble: loaded,
        });
    }
    let names = served
        .first()
        .map(|f| f.ensemble.weights().map(|(n, _)| n.to_string()).collect())
        .unwrap_or_default();
    Ok(WalkForward {
        config,
        export,
        folds: served,
        names,
        seconds_training,
    })
}

/// The report's `walk_forward` object: how the folds were made.
#[derive(Debug, Clone, Serialize)]
pub struct WalkForwardInfo {
    pub retrain_every_weeks: u32,
    pub train_years: u32,
    pub calibrate_months: u32,
    pub purge_trading_days: u32,
    pub label_reads_trading_days: i64,
    pub first_fold_params: FoldParams,
    /// A later fold that trains its LSTM (warm-started).
    pub warm_fold_params: FoldParams,
    /// `--lstm-every`: the LSTM is trained on folds 0, N, 2N...
    pub lstm_every_folds: u32,
    /// The folds between (`--lstm-every` > 1): the parent's LSTM kept, 0 epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_lstm_fold_params: Option<FoldParams>,
    pub export: ExportInfo,
    pub rule: &'static str,
}

/// One entry of the report's `folds`.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    pub index: usize,
    pub train_from: NaiveDate,
    pub train_to: NaiveDate,
    pub calibrate_from: NaiveDate,
    pub calibrate_to: NaiveDate,
    pub trade_from: NaiveDate,
    pub trade_to: NaiveDate,
    /// The fold's bundle version.
    pub bundle: String,
    /// The bundle its LSTM was warm-started from.
    pub warm_start: Option<String>,
    /// The fold server's metrics (calibration slice).
    pub metrics: serde_json::Value,
    /// Closed trades entered on this fold's signals (signal date in its trade window).
    pub trades: usize,
    /// The strategy's equity change over the fold's trade window.
    pub r#return: f64,
}

pub const RULE: &str = "Retrain dates every N weeks from the first trading day; fold k trades \
     [retrain_k, retrain_k+1) with a bundle trained on labelled rows dated [train_from, train_to] \
     and calibrated on [calibrate_from, calibrate_to], both strictly before retrain_k, each \
     slice followed by a purge of purge_trading_days NYSE trading days (at least the \
     label_reads_trading_days a label reads ahead), so no row the fold reads has features or a \
     label reading a bar on or after the next slice or the fold's first trading day. One \
     engine run over the whole window: positions carry across folds.";

pub const NOTE: &str = "Walk-forward retraining: every fold's ensemble was trained through the \
     models project on data strictly before its first trading day (see `folds` and \
     `walk_forward`), so every day of the test is out of sample for the model that traded it; \
     the fixed-model overlap check does not apply. The rule strategy has no fitted parameters.";

impl WalkForward {
    pub fn info(&self, args: &WalkForwardArgs) -> WalkForwardInfo {
        WalkForwardInfo {
            retrain_every_weeks: self.config.retrain_every_weeks,
            train_years: self.config.train_years,
            calibrate_months: self.config.calibrate_months,
            purge_trading_days: self.config.purge_trading_days,
            label_reads_trading_days: LABEL_READS_TRADING_DAYS,
            first_fold_params: args.params(0),
            warm_fold_params: args.params(args.lstm_every.max(1) as usize),
            lstm_every_folds: args.lstm_every.max(1),
            kept_lstm_fold_params: (args.lstm_every > 1).then(|| args.params(1)),
            export: self.export.clone(),
            rule: RULE,
        }
    }

    /// The folds with the trades their signals made and the equity change while they traded.
    pub fn fold_reports(&self, run: &BacktestRun) -> Vec<FoldReport> {
        let mut before = run.config.starting_cash;
        self.folds
            .iter()
            .map(|f| {
                let fold = &f.fold;
                let trades = run
                    .trades
                    .iter()
                    .filter(|t| fold.trades_on(nyse::previous_trading_day(t.entry_date)))
                    .count();
                let end = run
                    .equity
                    .iter()
                    .rev()
                    .find(|p| p.date <= fold.trade_to)
                    .map_or(before, |p| p.equity);
                let r = end / before - 1.0;
                before = end;
                let warm_start = f.bundle.stored.parent.as_ref().and_then(|_| {
                    self.folds
                        .get(fold.index.wrapping_sub(1))
                        .map(|p| p.bundle.stored.version.clone())
                });
                FoldReport {
                    index: fold.index,
                    train_from: fold.train_from,
                    train_to: fold.train_to,
                    calibrate_from: fold.calibrate_from,
                    calibrate_to: fold.calibrate_to,
                    trade_from: fold.trade_from,
                    trade_to: fold.trade_to,
                    bundle: f.bundle.stored.version.clone(),
                    warm_start,
                    metrics: f.bundle.stored.metrics.clone(),
                    trades,
                    r#return: r,
                }
            })
            .collect()
    }

    /// One terminal line.
    pub fn summary_line(&self) -> String {
        format!(
            "walk-forward: {} folds ({} trained now, {} from the cache) in {:.1} s; features {}..={} ({} rows)",
            self.folds.len(),
            self.trained_now(),
            self.folds.len() - self.trained_now(),
            self.seconds_training,
            self.export.from,
            self.export.to,
            self.export.rows
        )
    }
}

/// The folds as an HTML table (report.html, "Model and method").
pub fn folds_table(folds: &[FoldReport], esc: &dyn Fn(&str) -> String) -> String {
    let mut s = String::from(
        "<table><tr><th>fold</th><th>trains on</th><th>calibrates on</th><th>trades</th>\
         <th>bundle</th><th>trades closed</th><th>return</th></tr>",
    );
    for f in folds {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{} .. {}</td><td>{} .. {}</td><td>{} .. {}</td><td>{}</td>\
             <td>{}</td><td>{:+.2}%</td></tr>",
            f.index,
            f.train_from,
            f.train_to,
            f.calibrate_from,
            f.calibrate_to,
            f.trade_from,
            f.trade_to,
            esc(&f.bundle),
            f.trades,
            f.r#return * 100.0
        ));
    }
    s.push_str("</table>");
    s
}
