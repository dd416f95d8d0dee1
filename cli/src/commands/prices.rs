//! `tft import-prices DIR`: seeds a database from a directory of daily-bar CSVs (the
//! layout `tft backtest --prices` reads), at COPY speed over the direct URL
//! (`shared::jobs::price_import`).

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use shared::adapters::db;
use shared::config::{DatabaseConfig, ProcessEnv};
use shared::jobs::price_import::import_dir;

pub async fn import(dir: &Path, quiet: bool) -> anyhow::Result<()> {
    let database = DatabaseConfig::bulk_from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&database)?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} import-prices [{bar:30}] {pos}/{len} files, {msg} ({eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    };
    let progress_bar = bar.clone();
    let result = import_dir(&pool, dir, &mut move |done, files, bars| {
        progress_bar.set_length(files as u64);
        progress_bar.set_position(done as u64);
        progress_bar.set_message(format!("{bars} bars"));
    })
    .await;
    bar.finish_and_clear();
    let summary = result?;
    println!(
        "{} files: {} tickers imported, {} bars, {} inserted, {} updated, {} unchanged",
        summary.files,
        summary.tickers_imported,
        summary.bars,
        summary.inserted,
        summary.updated,
        summary.bars - summary.inserted - summary.updated
    );
    for failure in &summary.failed {
        println!("  {}: {}", failure.path.display(), failure.reason);
    }
    anyhow::ensure!(
        summary.failed.is_empty(),
        "{} of {} files were not imported (listed above); the others were",
        summary.failed.len(),
        summary.files
    );
    Ok(())
}
