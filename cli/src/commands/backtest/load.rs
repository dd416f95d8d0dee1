//! Reading a backtest's inputs: CSV bars, Reddit dumps (scored on the import path), the
//! benchmark's bars, and the model bundle (refused if the test window overlaps what it was
//! trained or selected on).

use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use ensemble::store::ModelStore;
use ensemble::Ensemble;
use shared::adapters::{price_csv, sentiment_csv};
use shared::core::backtest::{check_out_of_sample, ModelWindow, RawInputs};
use shared::core::exits::ExitConfig;
use shared::core::nyse;

use super::BacktestArgs;
use crate::commands::features::scored_items;

pub struct Inputs {
    /// Bars, posts and the benchmark's bars (the market regime features read them).
    pub raw: RawInputs,
    pub benchmark_ticker: String,
}

#[tracing::instrument(skip_all, fields(prices = %args.prices.display()))]
pub fn inputs(args: &BacktestArgs) -> anyhow::Result<Inputs> {
    let prices = price_csv::load_dir(&args.prices)
        .with_context(|| format!("reading bars from {}", args.prices.display()))?;
    let (items, daily_sentiment) = match &args.sentiment {
        Some(path) => (Vec::new(), Some(sentiment_csv::read(path)?)),
        None => (scored_items(&args.posts)?, None),
    };
    let benchmark = price_csv::load_bars(&args.benchmark)
        .with_context(|| format!("reading the benchmark {}", args.benchmark.display()))?;
    let benchmark_ticker = args
        .benchmark
        .file_stem()
        .map(|s| s.to_string_lossy().to_uppercase())
        .unwrap_or_else(|| "BENCHMARK".into());
    // The benchmark is what the strategy is measured against, not one of its candidates
    // (the dev data keeps SPY.csv among the stocks).
    let prices = prices
        .into_iter()
        .filter(|(ticker, _)| !ticker.eq_ignore_ascii_case(&benchmark_ticker))
        .collect();
    Ok(Inputs {
        raw: RawInputs {
            prices,
            items,
            benchmark,
            daily_sentiment,
        },
        benchmark_ticker,
    })
}

/// The committed ensemble, the names of its models, and the windows it was fitted on.
pub struct Models {
    pub ensemble: Ensemble,
    pub names: Vec<String>,
    pub windows: Vec<ModelWindow>,
}

#[tracing::instrument(skip_all, fields(root = %root.display()))]
pub async fn models(root: &Path, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Models> {
    let bundle = ModelStore::Local(root.to_path_buf())
        .load_current()
        .await
        .with_context(|| {
            format!(
                "loading the model bundle from {} (use --strategy rules to backtest without models)",
                root.display()
            )
        })?;
    let m = &bundle.manifest;
    let windows = vec![
        ModelWindow {
            name: "training".into(),
            from: m.training_window.from,
            to: m.training_window.to,
        },
        ModelWindow {
            name: "validation".into(),
            from: m.validation_window.from,
            to: m.validation_window.to,
        },
        // The labels of the last validation rows read the bars of the following trading
        // days (the labels' horizon: entry the next day, time decay on its 7th trading
        // day): the model was selected on them too.
        ModelWindow {
            name: "validation labels".into(),
            from: m
                .validation_window
                .to
                .succ_opt()
                .unwrap_or(m.validation_window.to),
            to: nyse::add_trading_days(
                m.validation_window.to,
                i64::from(ExitConfig::default().hold_days),
            ),
        },
    ];
    check_out_of_sample(from, to, &windows).with_context(|| {
        format!(
            "model {} is a fixed model (no walk-forward retraining)",
            m.version
        )
    })?;
    let ensemble =
        Ensemble::from_bundle(&bundle).with_context(|| format!("loading model {}", m.version))?;
    let names = ensemble.weights().map(|(n, _)| n.to_string()).collect();
    Ok(Models {
        ensemble,
        names,
        windows,
    })
}
