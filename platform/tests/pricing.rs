//! The price book against the stack's real Redis: a miss fills the cache, a hit is served from it, a
//! price change drops the entry, and with Redis unreachable every lookup is served from PostgreSQL and
//! counted as a fallback. The migration's catalog is the seed's product list.

use platform::pricing::{catalog, set_price, PriceBook, Source};
use sqlx::PgPool;

fn redis_url() -> String {
    std::env::var("OPSDECK_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:56379".into())
}

/// A SKU of this test's own, so parallel tests (and earlier runs) never share a cache entry.
async fn own_sku(pool: &PgPool, price: i64) -> String {
    let sku = format!("SKU-T-{}", uuid::Uuid::now_v7().simple());
    sqlx::query("insert into cpq.catalog_price (sku, currency, description, unit_list_minor) values ($1, 'EUR', 'Test item', $2)")
        .bind(&sku)
        .bind(price)
        .execute(pool)
        .await
        .unwrap();
    sku
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_catalog_is_the_seeds_product_list_in_both_currencies(pool: PgPool) {
    for currency in ["EUR", "USD"] {
        let prices = catalog(&pool, currency).await.unwrap();
        let mut expected: Vec<(&str, &str, i64)> = platform::seed::PRODUCTS.to_vec();
        expected.sort();
        let got: Vec<(&str, &str, i64)> =
            prices.iter().map(|p| (p.sku.as_str(), p.description.as_str(), p.unit_list_minor)).collect();
        assert_eq!(got, expected, "{currency}");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_miss_fills_the_cache_a_hit_serves_it_and_a_change_drops_it(pool: PgPool) {
    let book = PriceBook::new(pool.clone(), Some(redis_url()));
    let sku = own_sku(&pool, 10_000).await;
    let (first, source) = book.price(&sku, "EUR").await.unwrap();
    assert_eq!((first.unit_list_minor, source), (10_000, Source::Database));
    let (_, source) = book.price(&sku, "EUR").await.unwrap();
    assert_eq!(source, Source::Cache);

    let mut tx = pool.begin().await.unwrap();
    let changed = set_price(&mut tx, &sku, "EUR", first.version, 12_500, "list price raised for 2027", "test").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed.version, first.version + 1);
    book.invalidate(&sku, "EUR").await;
    let (after, source) = book.price(&sku, "EUR").await.unwrap();
    assert_eq!((after.unit_list_minor, source), (12_500, Source::Database), "the change is read, not the stale entry");

    // A stale version is refused; the history keeps every change.
    let mut tx = pool.begin().await.unwrap();
    let stale = set_price(&mut tx, &sku, "EUR", first.version, 1, "someone else's edit", "test").await.unwrap_err();
    assert!(matches!(stale, platform::Error::Conflict { .. }), "{stale}");
    drop(tx);
    let changes: i64 = sqlx::query_scalar("select count(*) from cpq.catalog_price_change where sku = $1").bind(&sku).fetch_one(&pool).await.unwrap();
    assert_eq!(changes, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn with_redis_unreachable_prices_come_from_postgresql(pool: PgPool) {
    // Nothing listens on port 1.
    let book = PriceBook::new(pool.clone(), Some("redis://127.0.0.1:1".into()));
    let sku = own_sku(&pool, 7_700).await;
    for _ in 0..5 {
        let (price, source) = book.price(&sku, "EUR").await.unwrap();
        assert_eq!((price.unit_list_minor, source), (7_700, Source::Fallback));
        assert!(book.cache_resting(), "after a failure the cache is left alone for a while, not retried per lookup");
    }
    book.invalidate(&sku, "EUR").await; // logged, not failed
}
