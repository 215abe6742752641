//! The incident pages without JavaScript: plain form posts, signed in through Keycloak. A successful
//! command answers 303 to the incident; bad input 422 with the message at its field; a refusal 403 (role,
//! tenant) or 409 (a state rule); a stale form 412 — and nothing is written by any of them.

use platform::tenants::ACME;
use sqlx::PgPool;

use crate::helpers::{location, signed_in_app, TestApp, CONSOLE_URL};

const OPERATOR: &str = "oscar.operator";

async fn incident_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ops.operational_incident").fetch_one(pool).await.unwrap()
}

/// Declares a SEV2 on acme through the form; answers the incident's page address.
async fn declare_sev2(app: &TestApp) -> String {
    let acme = ACME.to_string();
    let response = app
        .post_form(
            "/incidents/new",
            &[
                ("severity", "SEV2"),
                ("detected_by", "ALERT"),
                ("summary", "Order orchestration stuck for acme"),
                ("tenants", acme.as_str()),
                ("order_ids", ""),
                ("quote_ids", ""),
            ],
            Some(CONSOLE_URL),
        )
        .await;
    assert_eq!(response.status().as_u16(), 303, "{}", response.text().await.unwrap_or_default());
    location(&response)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_declares_a_sev2_and_lands_on_its_detail_page(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;

    let (status, form) = app.page("/incidents/new").await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("Major tenant or core service degraded"), "each severity's meaning is shown");
    assert!(form.contains("On-call + domain owner"), "and its response");

    let detail = declare_sev2(&app).await;
    assert!(detail.starts_with("/incidents/"), "{detail}");
    let (status, body) = app.page(&detail).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Order orchestration stuck for acme"));
    assert!(body.contains("SEV-2") && body.contains("OPEN"));
    assert!(body.contains("Acme Corporation (acme)"));
    assert!(!body.contains("<script"), "pages carry no scripts");
    assert_eq!(incident_count(&pool).await, 1);

    let (status, list) = app.page("/incidents?severity=SEV2").await;
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("Order orchestration stuck for acme"));
    assert!(list.contains(r#"href="/incidents/new""#), "an operator may declare");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn invalid_declare_input_answers_422_with_the_message_at_the_field_and_writes_nothing(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;

    let response = app
        .post_form(
            "/incidents/new",
            &[("severity", "SEV9"), ("detected_by", "ALERT"), ("summary", "   "), ("order_ids", "kept input 42")],
            Some(CONSOLE_URL),
        )
        .await;

    assert_eq!(response.status().as_u16(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("Say in one line what is broken"), "the summary's message: {body}");
    assert!(body.contains(r#"class="field-error""#));
    assert!(body.contains("kept input 42"), "the input is kept");
    assert_eq!(incident_count(&pool).await, 0, "nothing is written");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_viewer_cannot_declare_an_incident(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), "vera.viewer").await;

    let (status, list) = app.page("/incidents").await;
    assert_eq!(status, 200, "{list}");
    assert!(!list.contains(r#"href="/incidents/new""#), "no declare link for a viewer");

    let acme = ACME.to_string();
    let response = app
        .post_form(
            "/incidents/new",
            &[("severity", "SEV2"), ("detected_by", "ALERT"), ("summary", "Viewer tries"), ("tenants", acme.as_str())],
            Some(CONSOLE_URL),
        )
        .await;
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(incident_count(&pool).await, 0, "no row");
}

fn triage_fields<'a>(version: &'a str, acme: &'a str, capability: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", version),
        ("severity", "SEV2"),
        ("detected_by", "ALERT"),
        ("detected_at", "2026-01-01 10:00:00"),
        ("tenants", acme),
        ("business_capability", capability),
        ("recovery_owner", "oscar.operator"),
        ("communication_owner", "cora.comms"),
    ]
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_stale_triage_form_answers_412_and_overwrites_nothing(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;
    let detail = declare_sev2(&app).await;
    let version: i64 = sqlx::query_scalar("select version from ops.operational_incident").fetch_one(&pool).await.unwrap();
    let version = version.to_string();
    let acme = ACME.to_string();

    let first = app.post_form(&format!("{detail}/triage"), &triage_fields(&version, &acme, "order capture"), Some(CONSOLE_URL)).await;
    assert_eq!(first.status().as_u16(), 303, "{}", first.text().await.unwrap_or_default());

    let stale = app.post_form(&format!("{detail}/triage"), &triage_fields(&version, &acme, "quoting"), Some(CONSOLE_URL)).await;
    assert_eq!(stale.status().as_u16(), 412);
    let body = stale.text().await.unwrap();
    assert!(body.contains("someone else saved this incident meanwhile"), "{body}");

    let (_, page) = app.page(&detail).await;
    assert!(page.contains("order capture") && !page.contains(r#"value="quoting""#), "nothing overwritten");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn only_comms_posts_status_updates_and_a_customer_update_naming_kafka_is_refused(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;
    let detail = declare_sev2(&app).await;
    let version = || async {
        let v: i64 =
            sqlx::query_scalar("select version from ops.operational_incident").fetch_one(&pool).await.unwrap();
        v.to_string()
    };
    let updates = || async {
        let n: i64 = sqlx::query_scalar("select count(*) from ops.status_update").fetch_one(&pool).await.unwrap();
        n
    };
    let customer = |version: String, message: &'static str| {
        vec![
            ("version".to_string(), version),
            ("audience".to_string(), "CUSTOMER".to_string()),
            ("status".to_string(), "INVESTIGATING".to_string()),
            ("affected_capability".to_string(), "Order confirmations".to_string()),
            ("message".to_string(), message.to_string()),
            ("customer_action".to_string(), "Nothing".to_string()),
        ]
    };
    let post = |browser: &TestApp, fields: Vec<(String, String)>| {
        let path = format!("{detail}/updates");
        let client = browser.client.clone();
        let url = format!("{}{}", browser.address, path);
        async move { client.post(url).header("origin", CONSOLE_URL).form(&fields).send().await.unwrap() }
    };

    let by_operator = post(&app, customer(version().await, "Order confirmations are delayed.")).await;
    assert_eq!(by_operator.status().as_u16(), 403, "an operator may not post status updates");

    let cora = app.fresh_browser();
    cora.sign_in("cora.comms").await;
    let (_, page) = cora.page(&detail).await;
    assert!(page.contains("Post an internal update") && page.contains("Post a customer update"));

    let leaky = post(&cora, customer(version().await, "Our Kafka cluster is lagging; orders are delayed.")).await;
    assert_eq!(leaky.status().as_u16(), 422);
    let body = leaky.text().await.unwrap();
    let at_field = body.split(r#"class="field-error""#).nth(1).unwrap_or_else(|| panic!("a field message: {body}"));
    let at_field = &at_field[..at_field.find("</p>").unwrap()];
    assert!(at_field.contains("Kafka"), "the offending word is listed at the field: {at_field}");
    assert_eq!(updates().await, 0, "nothing posted");

    let fine = post(&cora, customer(version().await, "Order confirmations are delayed; no action is needed.")).await;
    assert_eq!(fine.status().as_u16(), 303, "{}", fine.text().await.unwrap_or_default());
    assert_eq!(updates().await, 1);
    let (_, page) = cora.page(&detail).await;
    assert!(page.contains("Order confirmations are delayed; no action is needed."));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_sev2_runs_from_declaration_to_closed_through_the_forms_and_the_timeline_tells_it(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;
    let detail = declare_sev2(&app).await;
    let version = || async {
        let v: i64 =
            sqlx::query_scalar("select version from ops.operational_incident").fetch_one(&pool).await.unwrap();
        v.to_string()
    };
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = app.post_form(&path, &fields, Some(CONSOLE_URL)).await;
            let status = response.status().as_u16();
            let body = if status == 303 { location(&response) } else { response.text().await.unwrap() };
            (status, body)
        }
    };

    let close_early = post(
        format!("{detail}/lifecycle"),
        vec![("version", version().await), ("command", "CLOSE".into()), ("reason", "closing far too early".into())],
    )
    .await;
    assert_eq!(close_early.0, 409, "an OPEN incident cannot close: {}", close_early.1);

    for (command, reason) in [("MITIGATE", "paused orchestration starts"), ("RESOLVE", "stuck orders replayed")] {
        let done = post(
            format!("{detail}/lifecycle"),
            vec![("version", version().await), ("command", command.into()), ("reason", reason.into())],
        )
        .await;
        assert_eq!(done, (303, detail.clone()), "{command}");
    }

    let mut review: Vec<(&'static str, String)> = vec![("review_version", String::new())];
    for field in [
        "summary",
        "business_impact",
        "duration",
        "timeline",
        "technical_root_cause",
        "process_root_cause",
        "detection_gap",
        "prevention_gap",
    ] {
        review.push((field, format!("the {field}")));
    }
    assert_eq!(post(format!("{detail}/review"), review).await.0, 303);
    let item = post(
        format!("{detail}/action-items"),
        vec![
            ("action", "Alert on stuck orders".into()),
            ("owner", "oscar.operator".into()),
            ("due_date", "2030-01-31".into()),
            ("item_type", "ALERT".into()),
            ("category", "DETECT".into()),
        ],
    )
    .await;
    assert_eq!(item.0, 303, "{}", item.1);
    let review_version: i64 = sqlx::query_scalar("select version from ops.post_incident_review").fetch_one(&pool).await.unwrap();
    let complete =
        post(format!("{detail}/review/complete"), vec![("review_version", review_version.to_string())]).await;
    assert_eq!(complete.0, 303, "{}", complete.1);
    let closed = post(
        format!("{detail}/lifecycle"),
        vec![("version", version().await), ("command", "CLOSE".into()), ("reason", "review complete".into())],
    )
    .await;
    assert_eq!(closed.0, 303, "{}", closed.1);

    let (status, page) = app.page(&detail).await;
    assert_eq!(status, 200);
    assert!(page.contains(">CLOSED<"), "closed");
    assert!(page.contains("Alert on stuck orders"));
    let (_, human) = app.page(&format!("{detail}?timeline=human")).await;
    let (_, all) = app.page(&detail).await;
    assert!(all.matches("<li><time").count() >= human.matches("<li><time").count());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unknown_incident_is_not_found_and_a_viewer_gets_no_declare_form(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), "vera.viewer").await;
    let (status, _) = app.page("/incidents/00000000-0000-4000-8000-00000000beef").await;
    assert_eq!(status, 404);
    let (status, body) = app.page("/incidents/new").await;
    assert_eq!(status, 403, "{body}");
}

/// A real HTTP receiver on loopback standing in for a chat webhook: it records every body it is sent.
async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_status_update_reaches_the_configured_webhook_and_its_delivery_is_shown(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let (url, received) = webhook_receiver().await;
    let mut config = crate::helpers::idp_config();
    config.webhooks = vec![ops::incident::WebhookConfig::new(
        "ops-channel",
        ops::incident::WebhookUrl::parse(&url).unwrap(),
        [ops::incident::Audience::Internal],
    )];
    let app = crate::helpers::spawn_app_with(pool.clone(), config).await;
    app.sign_in(OPERATOR).await;
    let detail = declare_sev2(&app).await;
    let version: i64 = sqlx::query_scalar("select version from ops.operational_incident").fetch_one(&pool).await.unwrap();

    let cora = app.fresh_browser();
    cora.sign_in("cora.comms").await;
    let posted = cora
        .post_form(
            &format!("{detail}/updates"),
            &[
                ("version", version.to_string().as_str()),
                ("audience", "INTERNAL"),
                ("status", "INVESTIGATING"),
                ("started_at", "2026-01-02T08:00:00"),
                ("affected_capability", "order fulfillment"),
                ("affected_tenants", "acme"),
                ("customer_impact", "orders are delayed"),
                ("current_hypothesis", "fulfillment vendor outage"),
                ("mitigation_applied", "none yet"),
                ("owner", "cora.comms"),
                ("message", "Orchestration is stuck for acme; the vendor is answering 503."),
            ],
            Some(CONSOLE_URL),
        )
        .await;
    assert_eq!(posted.status().as_u16(), 303, "{}", posted.text().await.unwrap_or_default());

    // The delivery worker polls every 2 s; give it a bounded while.
    let mut delivered = String::new();
    for _ in 0..30 {
        delivered = sqlx::query_scalar("select status from ops.notification_delivery").fetch_one(&pool).await.unwrap();
        if delivered == "DELIVERED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(delivered, "DELIVERED");
    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "delivered once: {bodies:?}");
    assert!(bodies[0]["text"].as_str().unwrap().contains("the vendor is answering 503"), "{bodies:?}");
    let (_, page) = cora.page(&detail).await;
    assert!(page.contains("ops-channel"), "the delivery is shown on the incident");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn overdue_action_items_are_listed_on_the_register_for_those_who_may_see_their_incident(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;
    let detail = declare_sev2(&app).await;
    // A review with one action item that fell due yesterday (a fixture: the form refuses past due dates).
    sqlx::query(
        "with i as (select incident_id from ops.operational_incident),
              r as (insert into ops.post_incident_review (review_id, incident_id, created_by)
                    select gen_random_uuid(), incident_id, 'fixture' from i returning review_id, incident_id)
         insert into ops.action_item (action_item_id, review_id, incident_id, action, owner, due_date, item_type, category)
         select gen_random_uuid(), review_id, incident_id, 'Alert on outbox pending age above five minutes',
                'oscar.operator', current_date - 1, 'ALERT', 'DETECT' from r",
    )
    .execute(&pool)
    .await
    .unwrap();

    let (status, page) = app.page("/incidents").await;
    assert_eq!(status, 200);
    let panel = page.split("Overdue action items").nth(1).unwrap_or_else(|| panic!("an overdue panel: {page}"));
    assert!(panel.contains("Alert on outbox pending age above five minutes"), "{panel}");
    assert!(panel.contains("1 days"), "{panel}");
    assert!(panel.contains(&detail), "links to its incident: {panel}");

    let globex = app.fresh_browser();
    globex.sign_in("gwen.globex").await;
    let (_, page) = globex.page("/incidents").await;
    assert!(!page.contains("Overdue action items"), "an acme incident's items stay out of a globex user's view");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn triage_edits_the_affected_tenants_with_a_box_per_tenant_in_scope(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;
    let detail = declare_sev2(&app).await;
    let (_, page) = app.page(&detail).await;
    let globex = platform::tenants::GLOBEX.to_string();
    assert!(page.contains(&format!(r#"name="tenants" value="{globex}""#)), "a box for globex on the triage form");

    let version: i64 = sqlx::query_scalar("select version from ops.operational_incident").fetch_one(&pool).await.unwrap();
    let version = version.to_string();
    let acme = ACME.to_string();
    let mut fields = triage_fields(&version, &acme, "order capture");
    fields.push(("tenants", globex.as_str()));
    let saved = app.post_form(&format!("{detail}/triage"), &fields, Some(CONSOLE_URL)).await;
    assert_eq!(saved.status().as_u16(), 303, "{}", saved.text().await.unwrap_or_default());

    let tenants: Vec<uuid::Uuid> =
        sqlx::query_scalar("select tenant_id from ops.incident_tenant order by tenant_id").fetch_all(&pool).await.unwrap();
    assert_eq!(tenants, vec![ACME.as_uuid(), platform::tenants::GLOBEX.as_uuid()]);
    let (_, page) = app.page(&detail).await;
    assert!(page.contains("Globex (globex)"), "the incident now names globex");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_action_item_without_owner_gets_one_and_a_due_date_through_its_edit_form(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = signed_in_app(pool.clone(), OPERATOR).await;
    let detail = declare_sev2(&app).await;
    let item: uuid::Uuid = sqlx::query_scalar(
        "with i as (select incident_id from ops.operational_incident),
              r as (insert into ops.post_incident_review (review_id, incident_id, created_by)
                    select gen_random_uuid(), incident_id, 'fixture' from i returning review_id, incident_id)
         insert into ops.action_item (action_item_id, review_id, incident_id, action, item_type, category)
         select gen_random_uuid(), review_id, incident_id, 'Page on engine incidents for order orchestration',
                'ALERT', 'DETECT' from r returning action_item_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let path = format!("{detail}/action-items/{item}");
    let (_, page) = app.page(&detail).await;
    assert!(page.contains(&format!(r#"action="{path}""#)), "an edit form for the open item");

    let fields = |due: &'static str| {
        vec![
            ("version", "1"),
            ("action", "Page on engine incidents for order orchestration"),
            ("item_type", "ALERT"),
            ("category", "DETECT"),
            ("owner", "oscar.operator"),
            ("due_date", due),
        ]
    };
    let bad = app.post_form(&path, &fields("next tuesday"), Some(CONSOLE_URL)).await;
    assert_eq!(bad.status().as_u16(), 422);
    let saved = app.post_form(&path, &fields("2099-01-31"), Some(CONSOLE_URL)).await;
    assert_eq!(saved.status().as_u16(), 303, "{}", saved.text().await.unwrap_or_default());
    let (owner, due): (Option<String>, Option<chrono::NaiveDate>) =
        sqlx::query_as("select owner, due_date from ops.action_item").fetch_one(&pool).await.unwrap();
    assert_eq!(owner.as_deref(), Some("oscar.operator"));
    assert_eq!(due.map(|d| d.to_string()).as_deref(), Some("2099-01-31"));
}
