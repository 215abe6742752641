//! The incident register's list: keyset pagination without duplicates or gaps under every filter and
//! tenant scope, checked page by page against a plain ORDER BY, on a small data set and at 100k
//! incidents (created set-based with generate_series). Speed is for benchmarks; the 100k test prints
//! the plans of the list's query shapes (run with --nocapture to read them).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use ops::identity::{Actor, Role};
use ops::incident::*;
use platform::ids::TenantId;
use platform::tenants::{self, ACME, GLOBEX, INITECH, UMBRELLA};
use sqlx::PgPool;

/// `n` incidents, three per detected_at (so the incident id breaks ties), 17 minutes apart, newest
/// `now`. Severity cycles; most are CLOSED; tenants: one of four unevenly (umbrella rare), every 10th a
/// second tenant, every 50th none (platform-wide).
async fn generate(pool: &PgPool, n: i64, now: DateTime<Utc>) {
    tenants::ensure_well_known(pool).await.unwrap();
    sqlx::query(
        "insert into ops.operational_incident
           (incident_id, severity, status, detected_at, detected_by, summary, created_by, next_update_due_at)
         select md5('incident' || g)::uuid,
                (array['SEV1', 'SEV2', 'SEV3', 'SEV4'])[1 + g % 4],
                (array['OPEN', 'MITIGATED', 'RESOLVED', 'CLOSED', 'CLOSED', 'CLOSED', 'CLOSED', 'CLOSED'])[1 + (g / 7) % 8],
                $2 - (g / 3) * interval '17 minutes',
                'ALERT', 'generated incident ' || g, 'test:bulk',
                $2 - (g / 3) * interval '17 minutes' + interval '1 hour'
         from generate_series(1, $1) as g",
    )
    .bind(n)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    let tenants: Vec<TenantId> = vec![ACME, ACME, ACME, ACME, GLOBEX, GLOBEX, GLOBEX, INITECH, INITECH, UMBRELLA];
    sqlx::query(
        "insert into ops.incident_tenant (incident_id, tenant_id)
         select md5('incident' || g)::uuid, ($2::uuid[])[1 + (g / 2) % 10] from generate_series(1, $1) as g where g % 50 <> 0
         union all
         select md5('incident' || g)::uuid, ($2::uuid[])[1 + (g / 2 + 4) % 10] from generate_series(1, $1) as g
         where g % 10 = 0 and g % 50 <> 0 and ($2::uuid[])[1 + (g / 2 + 4) % 10] <> ($2::uuid[])[1 + (g / 2) % 10]",
    )
    .bind(n)
    .bind(&tenants)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("analyze ops.operational_incident").execute(pool).await.unwrap();
    sqlx::query("analyze ops.incident_tenant").execute(pool).await.unwrap();
}

/// What the list must show, by a plain query: ids newest first.
async fn expected(pool: &PgPool, filter: &IncidentFilter, scope: Option<Vec<TenantId>>) -> Vec<IncidentId> {
    let tenants: Option<Vec<TenantId>> = match (filter.tenant, scope) {
        (Some(t), _) => Some(vec![t]),
        (None, s) => s,
    };
    sqlx::query_scalar(
        "select i.incident_id from ops.operational_incident i
         where ($1::text is null or i.status = $1) and ($2::text is null or i.severity = $2)
           and ($3::timestamptz is null or i.detected_at >= $3) and ($4::timestamptz is null or i.detected_at < $4)
           and ($5::uuid[] is null or exists (select 1 from ops.incident_tenant t where t.incident_id = i.incident_id
                                                and t.tenant_id = any($5)))
         order by i.detected_at desc, i.incident_id desc",
    )
    .bind(filter.status.map(|s| s.as_str()))
    .bind(filter.severity.map(|s| s.as_str()))
    .bind(filter.detected_since)
    .bind(filter.detected_before)
    .bind(tenants)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Walks every page; returns the ids in order.
async fn walk(pool: &PgPool, actor: &Actor, filter: &IncidentFilter, limit: u32) -> Vec<IncidentId> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page =
            list_incidents(pool, actor, &IncidentListQuery { filter: filter.clone(), after, limit }).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        ids.extend(page.items.iter().map(|i| i.incident_id));
        match page.next {
            // The token the page links with is the cursor itself.
            Some(next) => after = Some(Cursor::parse(&next.to_token()).unwrap()),
            None => break,
        }
    }
    ids
}

fn scoped(tenants: &[TenantId]) -> Actor {
    actor("scoped", &[Role::Viewer], only(tenants))
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn pages_follow_one_another_without_duplicates_or_gaps_under_every_filter_and_scope(pool: PgPool) {
    let now = Utc::now();
    generate(&pool, 2_000, now).await;
    let all = viewer();
    let week_ago = now - Duration::days(7);
    let cases: Vec<(&str, Actor, IncidentFilter, Option<Vec<TenantId>>)> = vec![
        ("everything", all.clone(), IncidentFilter::default(), None),
        ("closed", all.clone(), IncidentFilter { status: Some(IncidentStatus::Closed), ..Default::default() }, None),
        ("sev1", all.clone(), IncidentFilter { severity: Some(Severity::Sev1), ..Default::default() }, None),
        (
            "open sev2",
            all.clone(),
            IncidentFilter { status: Some(IncidentStatus::Open), severity: Some(Severity::Sev2), ..Default::default() },
            None,
        ),
        ("umbrella", all.clone(), IncidentFilter { tenant: Some(UMBRELLA), ..Default::default() }, None),
        (
            "globex mitigated",
            all.clone(),
            IncidentFilter { tenant: Some(GLOBEX), status: Some(IncidentStatus::Mitigated), ..Default::default() },
            None,
        ),
        ("last week", all.clone(), IncidentFilter { detected_since: Some(week_ago), ..Default::default() }, None),
        (
            "before last week",
            all.clone(),
            IncidentFilter { detected_before: Some(week_ago), ..Default::default() },
            None,
        ),
        ("acme and initech people", scoped(&[ACME, INITECH]), IncidentFilter::default(), Some(vec![ACME, INITECH])),
        (
            "acme and initech people, sev3 last week",
            scoped(&[ACME, INITECH]),
            IncidentFilter { severity: Some(Severity::Sev3), detected_since: Some(week_ago), ..Default::default() },
            Some(vec![ACME, INITECH]),
        ),
        ("umbrella people", scoped(&[UMBRELLA]), IncidentFilter::default(), Some(vec![UMBRELLA])),
    ];
    for (name, actor, filter, scope) in cases {
        let want = expected(&pool, &filter, scope).await;
        assert!(!want.is_empty(), "{name}: the data set should have rows for every case");
        let got = walk(&pool, &actor, &filter, 37).await;
        assert_eq!(got.len(), want.len(), "{name}");
        assert!(got == want, "{name}: pages differ from the plain query");
    }
    // Platform-wide incidents are listed for All-scope actors only.
    let wide = count(&pool, "select count(*) from ops.operational_incident i where not exists (select 1 from ops.incident_tenant t where t.incident_id = i.incident_id)").await;
    assert_eq!(wide, 40);
    let every_tenant = scoped(&[ACME, GLOBEX, INITECH, UMBRELLA]);
    assert_eq!(walk(&pool, &every_tenant, &IncidentFilter::default(), 200).await.len() as i64, 2_000 - wide);
    assert_eq!(walk(&pool, &all, &IncidentFilter::default(), 200).await.len(), 2_000);
    assert!(walk(&pool, &scoped(&[]), &IncidentFilter::default(), 50).await.is_empty());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_incident_declared_while_someone_pages_does_not_shift_their_next_page(pool: PgPool) {
    let now = Utc::now() - Duration::minutes(5);
    generate(&pool, 300, now).await;
    let query = |after| IncidentListQuery { filter: IncidentFilter::default(), after, limit: 100 };
    let first = list_incidents(&pool, &viewer(), &query(None)).await.unwrap();
    declare(&pool, &operator(), "SEV1", &[ACME], &[]).await;
    let second = list_incidents(&pool, &viewer(), &query(first.next)).await.unwrap();
    let want = expected(&pool, &IncidentFilter::default(), None).await;
    // The new incident is newest: it belongs before page 1, and page 2 is what it was.
    assert_eq!(second.items.iter().map(|i| i.incident_id).collect::<Vec<_>>(), want[101..201].to_vec());
    assert!(first.items.iter().chain(&second.items).all(|i| i.tenants.len() <= 2));
}

/// The cursor of the row at `position` (0-based) of `ids`.
async fn cursor_at(pool: &PgPool, ids: &[IncidentId], position: usize) -> Cursor {
    let detected_at: DateTime<Utc> =
        sqlx::query_scalar("select detected_at from ops.operational_incident where incident_id = $1")
            .bind(ids[position])
            .fetch_one(pool)
            .await
            .unwrap();
    Cursor { detected_at, incident_id: ids[position] }
}

async fn explain(pool: &PgPool, title: &str, sql: &str) {
    let plan: Vec<String> = sqlx::query_scalar(&format!("explain (analyze, costs off, timing on, summary on) {sql}"))
        .fetch_all(pool)
        .await
        .unwrap();
    println!("--- {title}\n{}", plan.join("\n"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn at_100k_incidents_the_first_and_a_deep_page_are_exactly_right(pool: PgPool) {
    let now = Utc::now();
    generate(&pool, 100_000, now).await;
    assert_eq!(count(&pool, "select count(*) from ops.operational_incident").await, 100_000);
    let cases: Vec<(&str, Actor, IncidentFilter, Option<Vec<TenantId>>)> = vec![
        ("everything", viewer(), IncidentFilter::default(), None),
        ("closed", viewer(), IncidentFilter { status: Some(IncidentStatus::Closed), ..Default::default() }, None),
        ("umbrella", viewer(), IncidentFilter { tenant: Some(UMBRELLA), ..Default::default() }, None),
        ("acme and initech people", scoped(&[ACME, INITECH]), IncidentFilter::default(), Some(vec![ACME, INITECH])),
        (
            "globex open",
            viewer(),
            IncidentFilter { tenant: Some(GLOBEX), status: Some(IncidentStatus::Open), ..Default::default() },
            None,
        ),
    ];
    for (name, actor, filter, scope) in cases {
        let want = expected(&pool, &filter, scope).await;
        let first =
            list_incidents(&pool, &actor, &IncidentListQuery { filter: filter.clone(), after: None, limit: 50 })
                .await
                .unwrap();
        assert_eq!(
            first.items.iter().map(|i| i.incident_id).collect::<Vec<_>>(),
            want[..50].to_vec(),
            "{name}: first page"
        );
        let deep = want.len() * 7 / 10;
        let after = cursor_at(&pool, &want, deep - 1).await;
        let page =
            list_incidents(&pool, &actor, &IncidentListQuery { filter, after: Some(after), limit: 50 }).await.unwrap();
        assert_eq!(
            page.items.iter().map(|i| i.incident_id).collect::<Vec<_>>(),
            want[deep..deep + 50].to_vec(),
            "{name}: the page after row {deep} of {}",
            want.len()
        );
        assert!(page.next.is_some());
        println!("{name}: {} rows, deep page after row {deep} checked", want.len());
    }

    // The plans of the list's shapes (see `list`), for the record.
    let deep: (DateTime<Utc>, uuid::Uuid) = sqlx::query_as(
        "select detected_at, incident_id from ops.operational_incident order by detected_at desc, incident_id desc offset 70000 limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let cursor = format!("(timestamptz '{}', '{}'::uuid)", deep.0.to_rfc3339(), deep.1);
    let columns = "i.incident_id, i.incident_number, i.severity, i.status, i.summary, i.detected_at, i.detected_by, i.next_update_due_at, \
                   (i.status in ('OPEN', 'MITIGATED') and i.next_update_due_at < now()) as update_overdue, i.version";
    explain(&pool, "all, first page", &format!("select {columns} from ops.operational_incident i where true order by i.detected_at desc, i.incident_id desc limit 51")).await;
    explain(
        &pool,
        "all, deep page (after row 70,000)",
        &format!("select {columns} from ops.operational_incident i where true and (i.detected_at, i.incident_id) < {cursor} order by i.detected_at desc, i.incident_id desc limit 51"),
    )
    .await;
    explain(
        &pool,
        "status OPEN, deep page",
        &format!("select {columns} from ops.operational_incident i where true and i.status = 'OPEN' and (i.detected_at, i.incident_id) < {cursor} order by i.detected_at desc, i.incident_id desc limit 51"),
    )
    .await;
    let by_tenant = |tenants: &str, extra: &str| {
        format!(
            "select {columns} from (select distinct x.incident_id from unnest(array[{tenants}]::uuid[]) as s(tenant_id) cross join lateral (
               select it.incident_id, it.detected_at from ops.incident_tenant it {extra} order by it.detected_at desc, it.incident_id desc limit 51) x
             ) v join ops.operational_incident i on i.incident_id = v.incident_id order by i.detected_at desc, i.incident_id desc limit 51"
        )
    };
    let q = |t: TenantId| format!("'{t}'");
    explain(
        &pool,
        "tenant umbrella, deep page",
        &by_tenant(
            &q(UMBRELLA),
            &format!("where it.tenant_id = s.tenant_id and (it.detected_at, it.incident_id) < {cursor}"),
        ),
    )
    .await;
    explain(
        &pool,
        "scoped to acme + initech, deep page",
        &by_tenant(
            &format!("{}, {}", q(ACME), q(INITECH)),
            &format!("where it.tenant_id = s.tenant_id and (it.detected_at, it.incident_id) < {cursor}"),
        ),
    )
    .await;
    explain(
        &pool,
        "tenant globex, status OPEN, first page",
        &by_tenant(&q(GLOBEX), "join ops.operational_incident f on f.incident_id = it.incident_id where it.tenant_id = s.tenant_id and f.status = 'OPEN'"),
    )
    .await;
}
