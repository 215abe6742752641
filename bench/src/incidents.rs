//! The incident register's benchmark data (issue 14 §2): incidents declared through the domain's own
//! command (`declare_incident`: authorised, validated, its timeline and audit lines written), several at
//! once, until the register holds `count`. Kept between runs like the orders.

use std::time::Instant;

use futures::{stream, StreamExt, TryStreamExt};
use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use ops::testing::demo_user;
use platform::tenants::WELL_KNOWN;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::Result;

const SEVERITIES: [&str; 4] = ["SEV1", "SEV2", "SEV3", "SEV4"];
const DETECTED_BY: [&str; 3] = ["ALERT", "USER_REPORT", "RECONCILIATION"];

pub async fn top_up(pool: &PgPool, count: u64) -> Result<Value> {
    let before: i64 = sqlx::query_scalar("select count(*) from ops.operational_incident").fetch_one(pool).await?;
    let missing = count.saturating_sub(before as u64);
    let oscar = demo_user("oscar.operator");
    let started = Instant::now();
    stream::iter(0..missing)
        .map(|i| {
            let oscar = &oscar;
            async move {
                let n = before as u64 + i;
                let form = DeclareForm {
                    severity: SEVERITIES[(n % 4) as usize].into(),
                    detected_by: DETECTED_BY[(n % 3) as usize].into(),
                    summary: format!("Benchmark incident {n}: orders of this tenant stuck in orchestration"),
                    tenants: vec![WELL_KNOWN[(n % WELL_KNOWN.len() as u64) as usize].0.to_string()],
                    ..Default::default()
                };
                let input = IncidentForDeclare::parse(&form).map_err(|e| format!("{e:?}"))?;
                declare_incident(pool, oscar, &input).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            }
        })
        .buffer_unordered(6)
        .try_collect::<()>()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("incidents: {before} → {} ({missing} declared in {seconds:.1} s)", before as u64 + missing);
    Ok(json!({ "before": before, "declared": missing, "seconds": seconds, "total": before as u64 + missing }))
}
