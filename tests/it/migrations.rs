use integration_tests::TestDb;
use shared::adapters::db;

#[tokio::test]
async fn migrations_apply_once_and_create_stock_prices() {
    let test_db = TestDb::new().await; // applies every migration
    let again = db::migrate(&test_db.database).await.unwrap();
    assert!(again.is_empty(), "second run applied {again:?}");

    let client = test_db.pool.get().await.unwrap();
    let columns = client
        .query(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_name = 'stock_prices' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap();
    let columns: Vec<(String, String, String)> = columns
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let find = |name: &str| {
        columns
            .iter()
            .find(|c| c.0 == name)
            .unwrap_or_else(|| panic!("column {name} missing from {columns:?}"))
    };
    assert_eq!(find("date").1, "date");
    assert_eq!(find("close").1, "double precision");
    assert_eq!(find("volume").1, "bigint");
    assert_eq!(find("rsi").2, "YES");
    for name in [
        "ticker",
        "open",
        "high",
        "low",
        "adjusted_close",
        "macd",
        "macd_signal",
        "macd_hist",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "sma_50",
        "sma_200",
        "volume_ratio",
        "fetched_at",
    ] {
        find(name);
    }

    let unique = client
        .query_one(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index \
             WHERE indrelid = 'stock_prices'::regclass AND indisunique AND NOT indisprimary",
            &[],
        )
        .await
        .unwrap();
    let def: String = unique.get(0);
    assert!(def.contains("(ticker, date)"), "{def}");
}

#[tokio::test]
async fn the_database_refuses_zero_prices() {
    let test_db = TestDb::new().await;
    let client = test_db.pool.get().await.unwrap();
    let err = client
        .batch_execute(
            "INSERT INTO stock_prices (ticker, date, open, high, low, close, adjusted_close, volume) \
             VALUES ('ZERO', '2021-01-04', 0, 0, 0, 0, 0, 0)",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("stock_prices_positive_prices")
            || format!("{err:?}").contains("stock_prices_positive_prices"),
        "{err:?}"
    );
}
