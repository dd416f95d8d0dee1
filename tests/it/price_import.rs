//! `tft import-prices`'s library path (`jobs::price_import`): binary COPY into a staging
//! table and one set-based upsert, on real PostgreSQL.

use std::path::{Path, PathBuf};

use integration_tests::TestDb;
use shared::adapters::price_store;
use shared::jobs::price_import::{file_rows, import_dir};

fn prices_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/fixtures/prices")
}

/// Every stored price row as text, and a fingerprint that any rewrite changes.
async fn table(db: &TestDb) -> (Vec<String>, String) {
    let client = db.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT row(ticker, date, open, high, low, close, adjusted_close, volume, rsi, macd, \
             macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, sma_50, sma_200, \
             volume_ratio)::text FROM stock_prices ORDER BY ticker, date",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let fingerprint = client
        .query_one(
            "SELECT coalesce(md5(string_agg(ctid::text || xmin::text || fetched_at::text, '|' \
             ORDER BY id)), '') FROM stock_prices",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    (rows, fingerprint)
}

#[tokio::test]
async fn import_prices_copies_what_the_price_job_upserts_and_a_reimport_changes_nothing() {
    let (copied, upserted) = (TestDb::new().await, TestDb::new().await);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(prices_fixture()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    // A file with a bad row and one whose name is no ticker: reported, the rest imports.
    std::fs::write(
        dir.path().join("BAD.csv"),
        "Date,Open,High,Low,Close,Adj Close,Volume\n2021-01-04,1,2,0.5,1.5,1.5,100\n2021-01-05,x,2,1,1,1,1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("not a ticker.csv"), "Date,Open\n").unwrap();

    let mut calls = 0;
    let summary = import_dir(&copied.pool, dir.path(), &mut |_, _, _| calls += 1)
        .await
        .unwrap();
    assert_eq!(calls, 6);
    assert_eq!(summary.files, 6);
    assert_eq!(summary.tickers_imported, 4);
    assert_eq!(summary.inserted, summary.bars);
    assert_eq!(summary.updated, 0);
    let failed: Vec<String> = summary
        .failed
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f.path.file_name().unwrap().to_string_lossy(),
                f.reason
            )
        })
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0].starts_with("BAD.csv: ") && failed[0].contains("BAD.csv:3:"),
        "{failed:?}"
    );
    assert!(failed[1].contains("not a ticker"), "{failed:?}");

    // The same rows through the price job's UNNEST upsert give the same table.
    let mut client = upserted.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    for name in ["AAPL", "GME", "NKLA", "PLTR"] {
        let rows = file_rows(&dir.path().join(format!("{name}.csv"))).unwrap();
        price_store::upsert_prices(&*tx, &rows).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (rows, before) = table(&copied).await;
    assert_eq!(rows.len() as u64, summary.bars);
    assert_eq!(rows, table(&upserted).await.0);

    // Again: nothing inserted, nothing updated, no row rewritten.
    let again = import_dir(&copied.pool, dir.path(), &mut |_, _, _| {})
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated), (0, 0));
    assert_eq!(table(&copied).await.1, before);

    // A changed bar is updated, and only that one.
    let gme = dir.path().join("GME.csv");
    let text = std::fs::read_to_string(&gme).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let last = lines.len() - 1;
    let mut cells: Vec<String> = lines[last].split(',').map(String::from).collect();
    let volume = cells.len() - 1;
    cells[volume] = (cells[volume].parse::<i64>().unwrap() + 1).to_string();
    lines[last] = cells.join(",");
    std::fs::write(&gme, lines.join("\n") + "\n").unwrap();
    let changed = import_dir(&copied.pool, dir.path(), &mut |_, _, _| {})
        .await
        .unwrap();
    assert_eq!((changed.inserted, changed.updated), (0, 1));

    // A batch of stored and new tickers takes the staged upsert: the new rows only.
    let client = copied.pool.get().await.unwrap();
    let pltr = client
        .execute("DELETE FROM stock_prices WHERE ticker = 'PLTR'", &[])
        .await
        .unwrap();
    drop(client);
    assert!(pltr > 0);
    let mixed = import_dir(&copied.pool, dir.path(), &mut |_, _, _| {})
        .await
        .unwrap();
    assert_eq!((mixed.inserted, mixed.updated), (pltr, 0));
    assert_eq!(table(&copied).await.0.len() as u64, summary.bars);
}
