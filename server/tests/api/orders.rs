use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

use crate::helpers::{capture_order, encode, signed_in_app};

/// Every test here looks as an operator of all tenants; tenant scope has its own tests (access.rs).
const OPERATOR: &str = "oscar.operator";

fn lookup(tenant: &str, q: &str) -> String {
    format!("/orders?tenant={}&q={}", encode(tenant), encode(q))
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_lookup_form_lists_every_tenant_to_an_operator_of_all_tenants(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;
    let (status, body) = app.page("/orders").await;
    assert_eq!(status, 200);
    for tenant in ["Acme Corporation (acme)", "Globex (globex)", "Initech (initech)", "Umbrella Retail (umbrella)"] {
        assert!(body.contains(tenant), "{tenant}");
    }
    assert!(body.contains(r#"<form method="get" action="/orders""#));
    assert!(!body.contains("<script"), "pages carry no scripts");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_is_shown_by_id_with_its_lines_transitions_and_outbox_events(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-T-0001", "Wile E. Coyote").await;
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&ACME.to_string(), &order.order_id.to_string())).await;

    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<title>Order SO-T-0001 · opsdeck</title>"));
    assert!(body.contains("Wile E. Coyote"));
    assert!(body.contains("ORCHESTRATING"));
    // Version 2: captured (1), then START_ORCHESTRATION (2).
    assert!(body.contains(r#"<dt>Version</dt><dd class="num">2</dd>"#), "{body}");
    // Lines: 2 × 1,250.00 = 2,500.00; 499.99 less 10% = 449.99; total 2,949.99.
    for text in ["ROUTER-X1", "SUPPORT-24X7", "EUR 1,250.00", "EUR 2,500.00", "EUR 449.99", "EUR 2,949.99"] {
        assert!(body.contains(text), "{text} is shown");
    }
    // The source quote and the acceptance evidence.
    assert!(body.contains("Q-T-0001") && body.contains("accept-Q-T-0001"));
    // Transition history: capture, then the orchestration start with its actor and reason.
    for text in ["CAPTURE", "START_ORCHESTRATION", "tess.tester", "customer asked for express handling"] {
        assert!(body.contains(text), "{text} is in the transition history");
    }
    // Outbox: the capture and the status change, still pending (no relay runs in tests).
    assert!(body.contains("OrderCaptured") && body.contains("OrderStatusChanged"));
    assert!(body.contains("PENDING"));
    assert!(body.contains("No fulfillment requests recorded"));
    assert!(body.contains("No projection row"));
    assert!(body.contains(&format!("{}:{}", ACME, order.order_id)), "the engine business key is shown");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_is_shown_by_its_order_number(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-T-0002", "Road Runner Ltd").await;
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&ACME.to_string(), &format!("  {}  ", order.order_number))).await;

    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&order.order_id.to_string()));
    assert!(body.contains("Road Runner Ltd"));
    assert!(body.contains("START_ORCHESTRATION"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_permalink_shows_the_same_order(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-T-0003", "Permalink Inc").await;
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&format!("/orders/{}/{}", ACME, order.order_id)).await;

    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Permalink Inc"));
    let (status, body) = app.page(&format!("/orders/{}/{}", ACME, order.order_number)).await;
    assert_eq!(status, 422);
    assert!(body.contains("“SO-T-0003” is not a valid order id."), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unknown_order_id_answers_404_naming_the_tenant(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;
    let unknown = platform::ids::OrderId::new();

    let (status, body) = app.page(&lookup(&ACME.to_string(), &unknown.to_string())).await;

    assert_eq!(status, 404);
    assert!(body.contains(&format!("No order or quote with id {unknown} in tenant Acme Corporation (acme).")), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unknown_order_number_answers_404(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&ACME.to_string(), "SO-NOPE-1")).await;

    assert_eq!(status, 404);
    assert!(body.contains("No order or quote numbered “SO-NOPE-1” in tenant Acme Corporation (acme)."), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_of_another_tenant_is_not_found(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-T-0004", "Tenant Bound GmbH").await;
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&GLOBEX.to_string(), &order.order_id.to_string())).await;

    assert_eq!(status, 404);
    assert!(body.contains("in tenant Globex (globex)."), "{body}");
    assert!(!body.contains("Tenant Bound GmbH"), "nothing of the other tenant's order is shown");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_mistyped_order_id_answers_422_at_the_field(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&ACME.to_string(), "10000000-0000-4000-8000-00000000000")).await;

    assert_eq!(status, 422);
    assert!(
        body.contains(r#"<p id="lookup-q-error" class="field-error">“10000000-0000-4000-8000-00000000000” is not a valid order id.</p>"#),
        "{body}"
    );
    assert!(body.contains(r#"aria-describedby="lookup-q-error""#));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_garbage_tenant_answers_422_at_the_tenant_field(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup("acme' or 1=1 --", "SO-1")).await;

    assert_eq!(status, 422);
    assert!(
        body.contains(
            r#"<p id="lookup-tenant-error" class="field-error">“acme' or 1=1 --” is not a valid tenant id.</p>"#
        ),
        "{body}"
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_control_character_in_the_lookup_answers_422_and_never_reaches_the_database(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&format!("/orders?tenant={ACME}&q=SO-%001")).await;

    assert_eq!(status, 422, "{body}");
    assert!(body.contains("An order number has no control characters."), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_empty_lookup_answers_422_for_both_fields(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page("/orders?tenant=&q=").await;

    assert_eq!(status, 422);
    assert!(body.contains("Choose a tenant."));
    assert!(body.contains("Enter an order id or an order number."));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unknown_tenant_answers_404(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool, OPERATOR).await;
    let unknown = platform::ids::TenantId::new();

    let (status, body) = app.page(&lookup(&unknown.to_string(), "SO-1")).await;

    assert_eq!(status, 404);
    assert!(body.contains(&format!("No tenant with id {unknown}.")), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn customer_data_is_escaped_in_the_page(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-T-0005", "<script>alert('x')</script> & Sons").await;
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&ACME.to_string(), &order.order_number)).await;

    assert_eq!(status, 200);
    assert!(body.contains("&lt;script&gt;alert("), "{body}");
    assert!(!body.contains("<script"), "no markup from data reaches the page");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_projection_behind_the_order_is_flagged(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-T-0006", "Lagging Reads plc").await;
    // The read model saw the capture (version 1) but not the orchestration start (version 2).
    sqlx::query(
        "insert into oms.order_projection (order_id, tenant_id, order_number, status, aggregate_version, total_minor,
                                           currency, source_updated_at)
         values ($1, $2, $3, 'CAPTURED', 1, 294999, 'EUR', now())",
    )
    .bind(order.order_id)
    .bind(order.tenant_id)
    .bind(&order.order_number)
    .execute(&pool)
    .await
    .unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    let (status, body) = app.page(&lookup(&ACME.to_string(), &order.order_number)).await;

    assert_eq!(status, 200);
    assert!(body.contains("Behind by 1 version:"), "{body}");
    assert!(body.contains("Projection (read model)"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_page_that_does_not_exist_answers_404(pool: PgPool) {
    let app = signed_in_app(pool, OPERATOR).await;
    let (status, body) = app.page("/no-such-area").await;
    assert_eq!(status, 404);
    assert!(body.contains("Page not found"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_root_leads_to_the_orders_page(pool: PgPool) {
    let app = signed_in_app(pool, OPERATOR).await;
    let response = app.get("/").await;
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/orders");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn order_360_opens_with_where_the_chain_stopped_and_the_repair_that_fits(pool: PgPool) {
    let order = platform::testing::captured_order(&pool, ACME, "Q-360-9").await.order_id;
    platform::orchestration::give_up_start(&mut pool.acquire().await.unwrap(), order, "gave up: engine unreachable for 7 min", "test")
        .await
        .unwrap();
    let app = signed_in_app(pool, OPERATOR).await;

    // By the engine's business key, without choosing the tenant.
    let (status, body) = app.page(&lookup("", &format!("{ACME}:{order}"))).await;
    assert_eq!(status, 200, "{body}");
    let verdict = body.find("Captured, orchestration start given up").expect("the verdict");
    assert!(verdict < body.find(r#"id="order-heading""#).expect("the order"), "the verdict comes before the order's record");
    assert!(body.contains(&format!("/repairs/new?type=resume-orchestration&amp;tenant={ACME}&amp;entity={order}")), "{body}");
    assert!(body.contains("Runbook: Stuck order"), "{body}");
    assert!(body.contains("Quote <span class=\"mono\">Q-360-9</span>"), "the quote panel: {body}");
    assert!(body.contains("Process engine"), "{body}");

    // By the quote's number.
    let (status, body) = app.page(&lookup(&ACME.to_string(), "Q-360-9")).await;
    assert_eq!(status, 200);
    assert!(body.contains(&order.to_string()));
}
