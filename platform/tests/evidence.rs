//! Evidence is append-only in the database itself: UPDATE, DELETE and TRUNCATE on history tables fail
//! whoever issues them; the audit log is hash-chained; a repair's request can never be rewritten.

use platform::ids::OrderId;
use platform::orchestration::give_up_start;
use platform::tenants::ACME;
use platform::testing::captured_order;
use sqlx::PgPool;

async fn one_order(pool: &PgPool) -> uuid::Uuid {
    one_order_numbered(pool, "Q-1").await
}

async fn one_order_numbered(pool: &PgPool, number: &str) -> uuid::Uuid {
    captured_order(pool, ACME, number).await.order_id.as_uuid()
}

async fn refused(pool: &PgPool, sql: &str) -> String {
    let err = sqlx::query(sql).execute(pool).await.expect_err(sql);
    err.as_database_error().expect("a database error").message().to_string()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn transition_history_cannot_be_updated_deleted_or_truncated(pool: PgPool) {
    one_order(&pool).await;
    for table in ["oms.order_transition", "cpq.quote_transition"] {
        let msg = refused(&pool, &format!("update {table} set actor = 'someone else'")).await;
        assert!(msg.contains("append-only: UPDATE refused"), "{msg}");
        let msg = refused(&pool, &format!("delete from {table}")).await;
        assert!(msg.contains("append-only: DELETE refused"), "{msg}");
        let msg = refused(&pool, &format!("truncate {table} cascade")).await;
        assert!(msg.contains("append-only: TRUNCATE refused"), "{msg}");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_settled_orchestration_start_cannot_be_changed_and_no_start_can_be_deleted(pool: PgPool) {
    let pending = one_order(&pool).await;
    let given_up = one_order_numbered(&pool, "Q-2").await;
    let mut tx = pool.begin().await.unwrap();
    give_up_start(&mut tx, OrderId::from_uuid(given_up), "a drill gave this start up on purpose", "test").await.unwrap();
    tx.commit().await.unwrap();

    let msg = refused(&pool, &format!("update oms.orchestration_start set status = 'PENDING' where order_id = '{given_up}'")).await;
    assert!(msg.contains("is GAVE_UP") && msg.contains("UPDATE refused"), "{msg}");
    let msg = refused(&pool, &format!("delete from oms.orchestration_start where order_id = '{pending}'")).await;
    assert!(msg.contains("DELETE refused"), "{msg}");
    let msg = refused(&pool, "truncate oms.orchestration_start").await;
    assert!(msg.contains("append-only: TRUNCATE refused"), "{msg}");
    // A pending start moves (that is how it is claimed and settled), within its CHECKs.
    sqlx::query("update oms.orchestration_start set attempts = 1 where order_id = $1").bind(pending).execute(&pool).await.unwrap();
    let msg = refused(&pool, &format!("update oms.orchestration_start set status = 'STARTED' where order_id = '{pending}'")).await;
    assert!(msg.contains("check constraint"), "a STARTED start names its instance: {msg}");
    // Giving up a start that is no longer pending is refused, not repeated.
    let mut tx = pool.begin().await.unwrap();
    let again = give_up_start(&mut tx, OrderId::from_uuid(given_up), "a drill gave this start up on purpose", "test").await;
    assert!(matches!(again, Err(platform::Error::Refused { .. })), "{again:?}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_audit_log_is_append_only_and_hash_chained(pool: PgPool) {
    for action in ["SIGN_IN", "REPAIR_REQUESTED", "REPAIR_APPROVED"] {
        sqlx::query(
            "insert into ops.audit_log (actor_subject, actor_name, actor_kind, action, outcome) values ('u1', 'User One', 'USER', $1, 'SUCCEEDED')",
        )
        .bind(action)
        .execute(&pool)
        .await
        .unwrap();
    }
    let rows: Vec<(Option<String>, String)> =
        sqlx::query_as("select prev_hash, hash from ops.audit_log order by audit_id").fetch_all(&pool).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].0, None);
    assert_eq!(rows[1].0.as_deref(), Some(rows[0].1.as_str()));
    assert_eq!(rows[2].0.as_deref(), Some(rows[1].1.as_str()));
    assert_eq!(rows[2].1.len(), 64, "sha-256 hex");
    let msg = refused(&pool, "update ops.audit_log set outcome = 'REFUSED'").await;
    assert!(msg.contains("append-only"), "{msg}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_repair_request_cannot_be_rewritten_or_deleted_and_only_moves_forward(pool: PgPool) {
    let order = one_order(&pool).await;
    let incident: uuid::Uuid = sqlx::query_scalar(
        "insert into ops.operational_incident (incident_id, severity, status, detected_at, detected_by, summary, created_by)
         values (gen_random_uuid(), 'SEV2', 'OPEN', now(), 'OPERATOR', 'Orders stuck', 'u1') returning incident_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into ops.repair_command_log (repair_id, incident_id, tenant_id, entity_type, entity_id, command_type, dry_run,
            risk, idempotency_key, requested_by, requested_by_subject, reason, entity_version, before_state, proposed_change,
            proposed_change_hash, status)
         values (gen_random_uuid(), $1, $2, 'ORDER', $3, 'RESUME_ORDER_ORCHESTRATION', true, 'HIGH', 'idem-1', 'u1', 'u1',
                 'order stuck in orchestration after vendor outage', 1, '{}', '{}', 'h', 'REQUESTED')",
    )
    .bind(incident)
    .bind(ACME)
    .bind(order)
    .execute(&pool)
    .await
    .unwrap();

    let msg = refused(&pool, "update ops.repair_command_log set reason = 'something shorter but still twenty'").await;
    assert!(msg.contains("what was requested cannot change"), "{msg}");
    let msg = refused(&pool, "delete from ops.repair_command_log").await;
    assert!(msg.contains("DELETE refused"), "{msg}");
    sqlx::query("update ops.repair_command_log set status = 'APPROVED', approved_by = 'u2'").execute(&pool).await.unwrap();
    let msg = refused(&pool, "update ops.repair_command_log set status = 'REQUESTED'").await;
    assert!(msg.contains("status APPROVED cannot become REQUESTED"), "{msg}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_reason_shorter_than_twenty_characters_is_refused_by_the_schema(pool: PgPool) {
    let err = sqlx::query(
        "with i as (
           insert into ops.operational_incident (incident_id, severity, status, detected_at, detected_by, summary, created_by)
           values (gen_random_uuid(), 'SEV3', 'OPEN', now(), 'OPERATOR', 's', 'u') returning incident_id)
         insert into ops.repair_command_log (repair_id, incident_id, tenant_id, entity_type, entity_id, command_type, dry_run,
            risk, idempotency_key, requested_by, requested_by_subject, reason, before_state, proposed_change,
            proposed_change_hash, status)
         select gen_random_uuid(), incident_id, gen_random_uuid(), 'ORDER', gen_random_uuid(), 'X', true, 'LOW', 'k', 'u', 'u',
                'too short', '{}', '{}', 'h', 'REQUESTED' from i",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(err.as_database_error().unwrap().constraint(), Some("repair_command_log_reason_check"));
}
