//! The §22.2 evaluation of a drill, from evidence: each question answered Yes, No or Unknown with what
//! says so, plus time to detect and to recover. Only "was the runbook accurate?" is the operator's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::catalogue::DrillSpec;
use crate::dashboard::{figure, Alarm};
use crate::error::Result;

/// An answer to one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Yes,
    No,
    /// Nothing stored can say.
    Unknown,
}

impl Answer {
    pub fn label(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
        }
    }
}

/// One §22.2 question, answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub question: String,
    pub answer: Answer,
    /// What says so.
    pub evidence: String,
}

/// What the console's records say about a drill since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The first alarm of one of the drill's figures (or a reconciliation mismatch on its entities).
    pub alert_at: Option<DateTime<Utc>>,
    pub alert_source: Option<String>,
    /// The first sign a person had the entity in hand: linked to the incident, a repair requested for it,
    /// a diagnostic run on the incident.
    pub found_at: Option<DateTime<Utc>>,
    pub found_how: Option<String>,
    /// Repairs of the drill's entities (type, status, requested by, approved by, executed at).
    pub repairs: Vec<RepairSeen>,
    pub recovered_at: Option<DateTime<Utc>>,
    pub recovered_how: Option<String>,
    /// Entities whose version moved without a transition that says so (a change by SQL). `None`: not
    /// checkable for this drill's entities.
    pub evidence_less: Option<Vec<Uuid>>,
    /// Repairs executed without their audit lines.
    pub unaudited_repairs: Vec<Uuid>,
    /// Whether the drill's figures are back within their limits in the latest round after recovery.
    pub dashboard_normal: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RepairSeen {
    pub repair_id: Uuid,
    pub command_type: String,
    pub status: String,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
}

/// The evaluation kept with the drill when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub questions: Vec<Question>,
    pub score: i32,
    pub time_to_detect_seconds: Option<i64>,
    pub time_to_recover_seconds: Option<i64>,
    pub evidence: Evidence,
    pub notes: String,
}

/// The evidence about a drill of `spec` started at `started` in `tenant`, breaking `entities`, for
/// `incident`. `fault_ended`: when the drill's cause was ended (an outage, a blocker), if it was.
pub async fn evidence(
    db: &mut PgConnection,
    spec: &DrillSpec,
    tenant: Uuid,
    started: DateTime<Utc>,
    incident: Uuid,
    entities: &[Uuid],
    fault_ended: Option<DateTime<Utc>>,
) -> Result<Evidence> {
    // Alert: the first alarming sample of a drill figure, for the drill tenant (or the platform).
    let mut alert: Option<(DateTime<Utc>, String)> = None;
    for name in spec.signals {
        let Some(f) = figure(name) else { continue };
        let Alarm::Above(limit) = f.alarm else { continue };
        let at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "select min(sampled_at) from (
               select sampled_at, sum(value) as v from ops.figure_sample
               where figure = $1 and sampled_at >= $2 and (tenant_id = $3 or ($4 and tenant_id is null))
               group by sampled_at, tenant_id) s
             where v >= $5",
        )
        .bind(f.name)
        .bind(started)
        .bind(tenant)
        .bind(spec.platform_wide)
        .bind(limit)
        .fetch_one(&mut *db)
        .await?;
        if let Some(at) = at.filter(|at| alert.as_ref().is_none_or(|(a, _)| at < a)) {
            alert = Some((at, format!("dashboard figure {} reached {limit}", f.title)));
        }
    }
    let mismatch: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select min(created_at) from ops.reconciliation_mismatch where entity_id = any($1) and created_at >= $2",
    )
    .bind(entities)
    .bind(started)
    .fetch_one(&mut *db)
    .await?;
    if let Some(at) = mismatch.filter(|at| alert.as_ref().is_none_or(|(a, _)| at < a)) {
        alert = Some((at, "a reconciliation mismatch on the drill's entity".to_string()));
    }

    // Found: the entity linked to the incident, a repair requested for it, a diagnostic run.
    let found: Vec<(Option<DateTime<Utc>>, &str)> = vec![
        (
            sqlx::query_scalar("select min(added_at) from ops.incident_entity where incident_id = $1 and entity_id = any($2)")
                .bind(incident)
                .bind(entities)
                .fetch_one(&mut *db)
                .await?,
            "linked to the drill's incident",
        ),
        (
            sqlx::query_scalar("select min(created_at) from ops.repair_command_log where entity_id = any($1) and created_at >= $2")
                .bind(entities)
                .bind(started)
                .fetch_one(&mut *db)
                .await?,
            "a repair was requested for it",
        ),
        (
            sqlx::query_scalar(
                "select min(occurred_at) from ops.incident_event where incident_id = $1 and event_type = 'DIAGNOSTIC_RUN'",
            )
            .bind(incident)
            .fetch_one(&mut *db)
            .await?,
            "a runbook diagnostic was run on the incident",
        ),
    ];
    let found = found.into_iter().filter_map(|(at, how)| at.map(|at| (at, how))).min_by_key(|(at, _)| *at);

    let repairs: Vec<RepairSeen> = sqlx::query_as(
        "select repair_id, command_type, status, requested_by, approved_by, executed_at from ops.repair_command_log
         where entity_id = any($1) and created_at >= $2 order by created_at",
    )
    .bind(entities)
    .bind(started)
    .fetch_all(&mut *db)
    .await?;
    let executed = repairs.iter().filter(|r| r.status == "EXECUTED").filter_map(|r| r.executed_at.map(|at| (at, r))).min_by_key(|(at, _)| *at);
    let (recovered_at, recovered_how) = match (executed, fault_ended) {
        (Some((at, r)), _) => (Some(at), Some(format!("repair {} executed by the console", r.command_type))),
        (None, Some(at)) if spec.repairs.is_empty() => (Some(at), Some("the cause was ended from the console".to_string())),
        _ => (None, None),
    };

    // A change without evidence: an order or approval whose version is ahead of its last transition.
    let evidence_less: Vec<Uuid> = sqlx::query_scalar(
        "select o.order_id from oms.sales_order o
         where o.order_id = any($1)
           and o.version > coalesce((select max(t.order_version) from oms.order_transition t where t.order_id = o.order_id), 0)
         union all
         select r.approval_request_id from cpq.approval_request r
         where r.approval_request_id = any($1)
           and r.version > coalesce((select max(t.row_version) from cpq.approval_transition t
                                     where t.approval_request_id = r.approval_request_id), 0)",
    )
    .bind(entities)
    .fetch_all(&mut *db)
    .await?;
    let checkable: i64 = sqlx::query_scalar(
        "select (select count(*) from oms.sales_order where order_id = any($1))
              + (select count(*) from cpq.approval_request where approval_request_id = any($1))",
    )
    .bind(entities)
    .fetch_one(&mut *db)
    .await?;

    // Every executed repair has its request and execution in the audit log.
    let unaudited_repairs: Vec<Uuid> = sqlx::query_scalar(
        "select r.repair_id from ops.repair_command_log r
         where r.entity_id = any($1) and r.created_at >= $2 and r.status = 'EXECUTED'
           and (select count(distinct a.action) from ops.audit_log a
                where a.action in ('repair.request', 'repair.execute') and a.outcome = 'SUCCEEDED'
                  and a.entity_id = r.repair_id) < 2",
    )
    .bind(entities)
    .bind(started)
    .fetch_all(&mut *db)
    .await?;

    // The first round sampled after the recovery: a tenant with nothing to count has no row there (zero).
    let round: Option<DateTime<Utc>> = match recovered_at {
        Some(after) => sqlx::query_scalar("select max(sampled_at) from ops.figure_sample where sampled_at > $1")
            .bind(after)
            .fetch_one(&mut *db)
            .await?,
        None => None,
    };
    let dashboard_normal = match round {
        Some(round) if !spec.signals.is_empty() => {
            let mut normal = true;
            for name in spec.signals {
                let Some(f) = figure(name) else { continue };
                let Alarm::Above(limit) = f.alarm else { continue };
                let latest: f64 = sqlx::query_scalar(
                    "select coalesce(sum(value), 0)::float8 from ops.figure_sample
                     where figure = $1 and sampled_at = $4 and (tenant_id = $2 or ($3 and tenant_id is null))",
                )
                .bind(f.name)
                .bind(tenant)
                .bind(spec.platform_wide)
                .bind(round)
                .fetch_one(&mut *db)
                .await?;
                normal &= latest < limit;
            }
            Some(normal)
        }
        _ => None,
    };

    Ok(Evidence {
        alert_at: alert.as_ref().map(|(at, _)| *at),
        alert_source: alert.map(|(_, s)| s),
        found_at: found.map(|(at, _)| at),
        found_how: found.map(|(_, how)| how.to_string()),
        repairs,
        recovered_at,
        recovered_how,
        evidence_less: (checkable > 0).then_some(evidence_less),
        unaudited_repairs,
        dashboard_normal,
    })
}

/// The seven questions of §22.2 from the evidence and the operator's answer on the runbook.
pub fn evaluate(spec: &DrillSpec, started: DateTime<Utc>, e: &Evidence, runbook_accurate: Answer, notes: &str) -> Evaluation {
    let at = |t: &Option<DateTime<Utc>>| t.map(|t| (t - started).num_seconds());
    let yes_no = |b: bool| if b { Answer::Yes } else { Answer::No };
    let q = |question: &str, answer: Answer, evidence: String| Question { question: question.to_string(), answer, evidence };
    let alert = match (&e.alert_at, spec.signals.is_empty()) {
        (Some(_), _) => q("Was the alert triggered?", Answer::Yes, format!("{} after {} s", e.alert_source.clone().unwrap_or_default(), at(&e.alert_at).unwrap_or(0))),
        (None, true) => q("Was the alert triggered?", Answer::Unknown, "this drill's alert is a live probe, not a stored figure".into()),
        (None, false) => q("Was the alert triggered?", Answer::No, format!("no alarm of {} since the drill started", spec.signals.join(", "))),
    };
    let found = q(
        "Could the operator find the affected entity?",
        yes_no(e.found_at.is_some()),
        match &e.found_how {
            Some(how) => format!("{how}, {} s after the start", at(&e.found_at).unwrap_or(0)),
            None => "nothing links the entity to the incident, no repair or diagnostic names it".into(),
        },
    );
    let runbook = q("Was the runbook accurate?", runbook_accurate, format!("the operator's answer (runbook {})", spec.runbook));
    let executed: Vec<&RepairSeen> = e.repairs.iter().filter(|r| r.status == "EXECUTED").collect();
    let safe = match (executed.is_empty(), spec.repairs.is_empty()) {
        (false, _) => q(
            "Was the recovery command safe?",
            yes_no(executed.iter().all(|r| spec.repairs.contains(&r.command_type.as_str()))),
            executed.iter().map(|r| format!("{} ({}; approved by {})", r.command_type, r.status, r.approved_by.clone().unwrap_or_else(|| "no approval needed".into()))).collect::<Vec<_>>().join("; "),
        ),
        (true, true) => q("Was the recovery command safe?", yes_no(e.recovered_at.is_some()), e.recovered_how.clone().unwrap_or_else(|| "the cause was not ended from the console".into())),
        (true, false) => q("Was the recovery command safe?", Answer::No, "no repair was executed".into()),
    };
    let audit = q(
        "Was the audit evidence complete?",
        yes_no(e.unaudited_repairs.is_empty()),
        if e.unaudited_repairs.is_empty() { format!("every executed repair ({}) has its request and execution audited", executed.len()) } else { format!("{} executed repair(s) lack audit lines", e.unaudited_repairs.len()) },
    );
    let dashboard = q(
        "Did the dashboard show recovery?",
        e.dashboard_normal.map(yes_no).unwrap_or(Answer::Unknown),
        match e.dashboard_normal {
            Some(true) => "the drill's figures are back within their limits".into(),
            Some(false) => "a drill figure is still alarming in the latest round".into(),
            None => "no sampled round after the recovery to say".into(),
        },
    );
    let sql = q(
        "Did we avoid manual SQL mutation?",
        e.evidence_less.as_ref().map(|v| yes_no(v.is_empty())).unwrap_or(Answer::Unknown),
        match &e.evidence_less {
            Some(v) if v.is_empty() => "every change to the drill's entities has its transition".into(),
            Some(v) => format!("{} entit(ies) changed without a transition", v.len()),
            None => "the drill's entities keep no version to compare".into(),
        },
    );
    let questions = vec![alert, found, runbook, safe, audit, dashboard, sql];
    let score = questions.iter().filter(|q| q.answer == Answer::Yes).count() as i32;
    Evaluation {
        questions,
        score,
        time_to_detect_seconds: at(&e.alert_at),
        time_to_recover_seconds: at(&e.recovered_at),
        evidence: e.clone(),
        notes: notes.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::Drill;

    fn evidence() -> Evidence {
        Evidence {
            alert_at: None,
            alert_source: None,
            found_at: None,
            found_how: None,
            repairs: vec![],
            recovered_at: None,
            recovered_how: None,
            evidence_less: Some(vec![]),
            unaudited_repairs: vec![],
            dashboard_normal: None,
        }
    }

    #[test]
    fn a_drill_nobody_worked_scores_only_what_held_by_itself() {
        let spec = Drill::ManualRepairDryRun.spec();
        let eval = evaluate(spec, Utc::now(), &evidence(), Answer::Unknown, "");
        let answers: Vec<Answer> = eval.questions.iter().map(|q| q.answer).collect();
        assert_eq!(answers, vec![Answer::No, Answer::No, Answer::Unknown, Answer::No, Answer::Yes, Answer::Unknown, Answer::Yes]);
        assert_eq!(eval.score, 2);
        assert_eq!(eval.time_to_recover_seconds, None);
    }

    #[test]
    fn a_drill_recovered_by_its_repair_scores_full_with_times() {
        let spec = Drill::ManualRepairDryRun.spec();
        let started = Utc::now() - chrono::Duration::minutes(10);
        let e = Evidence {
            alert_at: Some(started + chrono::Duration::seconds(30)),
            alert_source: Some("orders_stuck".into()),
            found_at: Some(started + chrono::Duration::seconds(90)),
            found_how: Some("linked".into()),
            repairs: vec![RepairSeen {
                repair_id: Uuid::nil(),
                command_type: "resume-orchestration".into(),
                status: "EXECUTED".into(),
                requested_by: "oscar".into(),
                approved_by: Some("ada".into()),
                executed_at: Some(started + chrono::Duration::seconds(300)),
            }],
            recovered_at: Some(started + chrono::Duration::seconds(300)),
            recovered_how: Some("repair".into()),
            dashboard_normal: Some(true),
            ..evidence()
        };
        let eval = evaluate(spec, started, &e, Answer::Yes, "fine");
        assert_eq!(eval.score, 7, "{:?}", eval.questions);
        assert_eq!(eval.time_to_detect_seconds, Some(30));
        assert_eq!(eval.time_to_recover_seconds, Some(300));
        // A repair that is not one of the drill's is not a safe recovery.
        let mut wrong = e.clone();
        wrong.repairs[0].command_type = "release-stale-claims".into();
        assert_eq!(evaluate(spec, started, &wrong, Answer::Yes, "").questions[3].answer, Answer::No);
    }
}
