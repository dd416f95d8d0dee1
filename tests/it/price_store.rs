use chrono::NaiveDate;
use integration_tests::TestDb;
use shared::adapters::price_store::{self, PriceRow};
use shared::core::indicators::IndicatorRow;
use shared::core::DailyBar;

pub fn sample_rows(ticker: &str, days: u32) -> Vec<PriceRow> {
    (0..days)
        .map(|i| {
            let close = 100.0 + f64::from(i) * 0.37;
            PriceRow {
                ticker: ticker.to_string(),
                bar: DailyBar {
                    date: NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()
                        + chrono::Days::new(i.into()),
                    open: close - 0.5,
                    high: close + 1.0,
                    low: close - 1.0,
                    close,
                    adjusted_close: close * 0.98,
                    volume: 1_000_000 + i64::from(i),
                },
                indicators: IndicatorRow {
                    rsi_14: (i >= 14).then_some(55.5),
                    sma_50: (i >= 49).then_some(close - 3.0),
                    ..Default::default()
                },
            }
        })
        .collect()
}

/// The table's content and physical identity (ctid, xmin): equal means nothing was
/// rewritten, not even with identical values.
pub async fn table_fingerprint(client: &tokio_postgres::Client) -> String {
    client
        .query_one(
            "SELECT coalesce(md5(string_agg(t::text || ctid::text || xmin::text, '|' ORDER BY ticker, date)), '') \
             FROM stock_prices t",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn bulk_upsert_inserts_then_leaves_unchanged_rows_untouched() {
    let test_db = TestDb::new().await;
    let client = test_db.pool.get().await.unwrap();
    let rows = sample_rows("AAPL", 300);

    let first = price_store::upsert_prices(&**client, &rows).await.unwrap();
    assert_eq!((first.inserted, first.updated), (300, 0));
    let before = table_fingerprint(&client).await;

    let second = price_store::upsert_prices(&**client, &rows).await.unwrap();
    assert_eq!((second.inserted, second.updated), (0, 0));
    assert_eq!(
        table_fingerprint(&client).await,
        before,
        "a no-op re-run rewrote rows"
    );

    let mut changed = rows.clone();
    changed[299].bar.close += 1.0;
    changed[10].indicators.rsi_14 = Some(10.0); // NULL -> value counts as a change
    let third = price_store::upsert_prices(&**client, &changed)
        .await
        .unwrap();
    assert_eq!((third.inserted, third.updated), (0, 2));

    let loaded = price_store::load_bars(&**client, "AAPL").await.unwrap();
    assert_eq!(loaded.len(), 300);
    assert_eq!(loaded[299], changed[299].bar);
    assert_eq!(
        price_store::last_stored_date(&**client, "AAPL")
            .await
            .unwrap(),
        Some(rows[299].bar.date)
    );
    assert_eq!(
        price_store::last_stored_date(&**client, "MSFT")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn nulls_round_trip_as_nulls() {
    let test_db = TestDb::new().await;
    let client = test_db.pool.get().await.unwrap();
    price_store::upsert_prices(&**client, &sample_rows("GME", 20))
        .await
        .unwrap();
    let counts = client
        .query_one(
            "SELECT count(*) FILTER (WHERE rsi IS NULL), count(*) FILTER (WHERE sma_50 IS NULL), \
             count(*) FILTER (WHERE macd IS NULL) FROM stock_prices",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            counts.get::<_, i64>(0),
            counts.get::<_, i64>(1),
            counts.get::<_, i64>(2)
        ),
        (14, 20, 20)
    );
}
