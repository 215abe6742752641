//! Checklists as forms (lesson §11.5, §16.2, §24): the questions to answer before a rollback or a replay,
//! and the production-readiness list, recorded — on the incident they serve, or platform-wide for
//! readiness — with who answered what and when. Each record is kept (append-only); the latest is what the
//! page shows, with its verdict. The readiness list fills in what the console can check itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platform::machine::Named;
use platform::named_enum;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::command::{read, run, Action, Envelope};
use crate::error::Result;
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;
use crate::ids::IncidentId;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::EventKind;

named_enum!(/// The checklists the console keeps.
Checklist {
    /// Before rolling a release back (§16.2).
    RollbackSafety => "rollback-safety",
    /// Before replaying events (§11.5).
    Replay => "replay",
    /// Before calling the platform operationally ready (§24).
    ProductionReadiness => "production-readiness",
});

named_enum!(/// An answer to one question.
Answer {
    Yes => "YES",
    No => "NO",
    Unknown => "UNKNOWN",
});

/// One question, and the answer that is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The form field of its answer.
    pub key: &'static str,
    pub question: &'static str,
    pub safe: Answer,
}

const fn item(key: &'static str, question: &'static str, safe: Answer) -> Item {
    Item { key, question, safe }
}

const ROLLBACK: [Item; 6] = [
    item("new_data_unreadable", "Did the new version write data the old version cannot read?", Answer::No),
    item("new_events_unreadable", "Did the new version publish events old consumers cannot understand?", Answer::No),
    item("new_process_definitions", "Did the new version deploy new process definitions to the engine?", Answer::No),
    item("irreversible_migrations", "Did the new version run migrations that cannot be reversed?", Answer::No),
    item("flags_exposed_states", "Did feature flags expose new states?", Answer::No),
    item("instances_on_new_model", "Are there active process instances started by the new process model?", Answer::No),
];

const REPLAY: [Item; 7] = [
    item("consumer_idempotent", "Is the consumer idempotent?", Answer::Yes),
    item("schema_readable", "Is the event schema still readable?", Answer::Yes),
    item("side_effects_guarded", "Are old side effects guarded by the inbox / deduplication?", Answer::Yes),
    item("replay_limited", "Is the replay limited by tenant, time or entity?", Answer::Yes),
    item("ordering_required", "Is ordering required?", Answer::No),
    item("projection_overwritable", "Is the downstream projection safe to overwrite?", Answer::Yes),
    item("dry_run_needed", "Do we need a dry-run comparison first?", Answer::No),
];

const READINESS: [Item; 16] = [
    item("transition_history", "Every core entity has transition history.", Answer::Yes),
    item("outbox_on_transitions", "Every high-risk transition emits an outbox event.", Answer::Yes),
    item("stale_claim_recovery", "The outbox has stale claim recovery.", Answer::Yes),
    item("inbox_dedup", "The inbox prevents duplicate consumer side effects.", Answer::Yes),
    item("business_key", "Process instances use the business key tenantId:orderId.", Answer::Yes),
    item("engine_incidents_alerted", "Engine incidents are alerted.", Answer::Yes),
    item("lag_alerted_by_sla", "Kafka consumer lag is alerted by business SLA.", Answer::Yes),
    item("dlt_owned", "The dead-letter topic has an owner and a triage process.", Answer::Yes),
    item("redis_degradation_tested", "The Redis degradation path is tested.", Answer::Yes),
    item("postgres_dashboard", "A PostgreSQL lock / slow query view exists.", Answer::Yes),
    item("duplicate_detection_scheduled", "The duplicate order detection query is scheduled.", Answer::Yes),
    item("quote_order_reconciliation", "Quote-to-order reconciliation exists.", Answer::Yes),
    item("repair_api_governed", "The manual repair API requires dry-run, reason, approval and audit.", Answer::Yes),
    item("runbooks_stored", "Runbooks are stored next to the service's ownership docs.", Answer::Yes),
    item("drills_run", "Failure drills are run before go-live.", Answer::Yes),
    item("action_items_tracked", "Post-incident review action items are tracked to completion.", Answer::Yes),
];

impl Checklist {
    pub fn title(self) -> &'static str {
        match self {
            Checklist::RollbackSafety => "Rollback safety (§16.2)",
            Checklist::Replay => "Before a replay (§11.5)",
            Checklist::ProductionReadiness => "Production readiness (§24)",
        }
    }

    pub fn items(self) -> &'static [Item] {
        match self {
            Checklist::RollbackSafety => &ROLLBACK,
            Checklist::Replay => &REPLAY,
            Checklist::ProductionReadiness => &READINESS,
        }
    }

    /// What the answers mean, in one sentence.
    pub fn verdict(self, answers: &BTreeMap<String, Answer>) -> String {
        let off: Vec<&Item> = self.items().iter().filter(|i| answers.get(i.key) != Some(&i.safe)).collect();
        let unknown = self.items().iter().filter(|i| answers.get(i.key).is_none_or(|a| *a == Answer::Unknown)).count();
        match self {
            Checklist::RollbackSafety if off.is_empty() => "Rollback is safe by this checklist.".to_string(),
            Checklist::RollbackSafety if off.len() > unknown => {
                "Prefer roll-forward or a compatibility bridge: the new version left state the old one cannot handle.".to_string()
            }
            Checklist::RollbackSafety => format!("Find out before rolling back: {unknown} question(s) unanswered."),
            Checklist::Replay if off.is_empty() => "Safe to replay, limited as answered.".to_string(),
            Checklist::Replay => format!(
                "Not yet: {}.",
                off.iter().map(|i| i.question.trim_end_matches('?')).collect::<Vec<_>>().join("; ")
            ),
            Checklist::ProductionReadiness if off.is_empty() => "Operationally ready by this checklist.".to_string(),
            Checklist::ProductionReadiness => format!("{} of {} not met yet.", off.len(), self.items().len()),
        }
    }
}

/// The posted form: one answer per question (field = the item's key), and a note.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChecklistForm(pub BTreeMap<String, String>);

impl ChecklistForm {
    pub const NOTE: &'static str = "note";
    pub const INCIDENT: &'static str = "incident_id";

    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map(String::as_str).unwrap_or("")
    }
}

/// A record that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistForRecord {
    pub checklist: Checklist,
    pub answers: BTreeMap<String, Answer>,
    pub note: Option<String>,
    pub incident: Option<IncidentId>,
}

impl ChecklistForRecord {
    /// Every question needs an answer (UNKNOWN is one: it says what is still to find out).
    pub fn parse(checklist: Checklist, form: &ChecklistForm) -> std::result::Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut answers = BTreeMap::new();
        for item in checklist.items() {
            match Answer::parse_name(form.get(item.key).trim()) {
                Some(answer) => {
                    answers.insert(item.key.to_string(), answer);
                }
                None => e.add(item.key, "Answer yes, no or unknown"),
            }
        }
        let note = parse::optional_text(&mut e, ChecklistForm::NOTE, form.get(ChecklistForm::NOTE), parse::MAX_TEXT);
        let incident = match form.get(ChecklistForm::INCIDENT).trim() {
            "" if checklist != Checklist::ProductionReadiness => {
                e.add(ChecklistForm::INCIDENT, "A rollback or replay checklist belongs to an incident");
                None
            }
            text => parse::optional_incident(&mut e, ChecklistForm::INCIDENT, text, "Not an incident id"),
        };
        e.finish(|| ChecklistForRecord { checklist, answers, note, incident })
    }
}

/// One recorded checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChecklistRecord {
    pub record_id: Uuid,
    pub incident_id: Option<IncidentId>,
    pub checklist: String,
    pub answers: sqlx::types::Json<BTreeMap<String, Answer>>,
    pub note: Option<String>,
    pub verdict: String,
    pub answered_by: String,
    pub answered_at: DateTime<Utc>,
}

const COLUMNS: &str = "record_id, incident_id, checklist, answers, note, verdict, answered_by, answered_at";

/// Records a checklist (operators): on its incident's timeline too.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, checklist = %input.checklist))]
pub async fn record_checklist(pool: &PgPool, actor: &Actor, input: &ChecklistForRecord) -> Result<ChecklistRecord> {
    let mut envelope = Envelope::new(actor, Action::ChecklistRecord);
    if let Some(incident) = input.incident {
        envelope = envelope.incident(incident).entity("INCIDENT", incident);
    }
    run(pool, envelope, async |cx| {
        match input.incident {
            Some(incident) => {
                let tenants = crate::incident::require_active_incident(cx, incident, ChecklistForm::INCIDENT, None).await?;
                cx.require_tenants(&tenants)?;
            }
            // Readiness is the platform's: it needs every tenant.
            None => cx.require_tenants(&[])?,
        }
        let verdict = input.checklist.verdict(&input.answers);
        let who = cx.actor_display();
        let record = sqlx::query_as::<_, ChecklistRecord>(&format!(
            "insert into ops.checklist_record (record_id, incident_id, checklist, answers, note, verdict, answered_by)
             values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(input.incident)
        .bind(input.checklist.name())
        .bind(sqlx::types::Json(&input.answers))
        .bind(&input.note)
        .bind(&verdict)
        .bind(&who)
        .fetch_one(cx.db())
        .await?;
        if let Some(incident) = input.incident {
            timeline::append(
                cx.db(),
                NewEvent {
                    incident_id: incident,
                    kind: EventKind::Human,
                    event_type: timeline::event_type::CHECKLIST_RECORDED,
                    actor: &who,
                    headline: format!("{}: {verdict}", input.checklist.title()),
                    body: json!({ "checklist": input.checklist, "answers": input.answers, "note": input.note }),
                    entities: &[],
                },
            )
            .await?;
        }
        cx.record(json!({ "checklist": input.checklist, "verdict": verdict }));
        Ok(record)
    })
    .await
}

/// The latest record of each checklist for an incident (or, without one, platform-wide), newest first.
pub async fn latest_records(pool: &PgPool, actor: &Actor, incident: Option<IncidentId>) -> Result<Vec<ChecklistRecord>> {
    read(pool, Envelope::new(actor, Action::IncidentRead), async |cx| {
        if let Some(incident) = incident {
            let tenants = crate::incident::incident_tenants(cx.db(), incident).await?;
            cx.require_visible(&tenants)?;
        }
        Ok(sqlx::query_as::<_, ChecklistRecord>(&format!(
            "select distinct on (checklist) {COLUMNS} from ops.checklist_record
             where incident_id is not distinct from $1 order by checklist, answered_at desc"
        ))
        .bind(incident)
        .fetch_all(cx.db())
        .await?)
    })
    .await
}

/// What the console can tell about a readiness question by itself, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub key: &'static str,
    pub answer: Answer,
    pub evidence: String,
}

/// The readiness questions the console answers from its own state (the rest are for people).
pub async fn observe_readiness(db: &mut PgConnection) -> Result<Vec<Observed>> {
    let mut out = Vec::new();
    let yes_no = |b: bool| if b { Answer::Yes } else { Answer::No };

    let guarded: Vec<String> = sqlx::query_scalar(
        "select c.relnamespace::regnamespace || '.' || c.relname from pg_trigger t join pg_class c on c.oid = t.tgrelid
         where t.tgname = 'append_only_rows' and c.relname in ('quote_transition', 'order_transition', 'approval_transition')
         order by 1",
    )
    .fetch_all(&mut *db)
    .await?;
    out.push(Observed {
        key: "transition_history",
        answer: yes_no(guarded.len() == 3),
        evidence: format!("append-only transition tables: {}", guarded.join(", ")),
    });

    let release = crate::repair::info(crate::repair::RepairType::ReleaseStaleClaims).is_some();
    out.push(Observed {
        key: "stale_claim_recovery",
        answer: yes_no(release),
        evidence: "the release-stale-claims repair is in the catalogue".into(),
    });

    let inbox_unique: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_index i join pg_class c on c.oid = i.indrelid
                        where c.relname = 'inbox_message' and c.relnamespace = 'messaging'::regnamespace
                          and (i.indisunique or i.indisprimary))",
    )
    .fetch_one(&mut *db)
    .await?;
    out.push(Observed {
        key: "inbox_dedup",
        answer: yes_no(inbox_unique),
        evidence: "messaging.inbox_message has a unique key on consumer group and message".into(),
    });

    out.push(Observed {
        key: "repair_api_governed",
        answer: Answer::Yes,
        evidence: "repairs store their dry-run, need a 20-character reason and an incident, a second person when HIGH, \
                   and the database refuses self-approval; every step is audited"
            .into(),
    });
    out.push(Observed {
        key: "runbooks_stored",
        answer: yes_no(!crate::runbook::all().is_empty()),
        evidence: format!("{} runbooks ship with the console (runbooks/)", crate::runbook::all().len()),
    });

    let drills: i64 =
        sqlx::query_scalar("select count(*) from ops.drill_run where status = 'RECOVERED'").fetch_one(&mut *db).await?;
    out.push(Observed {
        key: "drills_run",
        answer: yes_no(drills > 0),
        evidence: format!("{drills} drill(s) recovered"),
    });

    let (open, overdue): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where status = 'OPEN'),
                count(*) filter (where status = 'OPEN' and due_date < current_date)
         from ops.action_item",
    )
    .fetch_one(&mut *db)
    .await?;
    out.push(Observed {
        key: "action_items_tracked",
        answer: yes_no(overdue == 0),
        evidence: format!("{open} open action item(s), {overdue} overdue"),
    });
    Ok(out)
}

/// [`observe_readiness`] for a person (any reader).
pub async fn readiness(pool: &PgPool, actor: &Actor) -> Result<Vec<Observed>> {
    read(pool, Envelope::new(actor, Action::IncidentList), async |cx| observe_readiness(cx.db()).await).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(checklist: Checklist, answer: impl Fn(&Item) -> Answer) -> BTreeMap<String, Answer> {
        checklist.items().iter().map(|i| (i.key.to_string(), answer(i))).collect()
    }

    #[test]
    fn a_rollback_is_safe_only_when_every_answer_is_no() {
        let c = Checklist::RollbackSafety;
        assert!(c.verdict(&all(c, |_| Answer::No)).starts_with("Rollback is safe"));
        let mut one = all(c, |_| Answer::No);
        one.insert("new_events_unreadable".into(), Answer::Yes);
        assert!(c.verdict(&one).starts_with("Prefer roll-forward"));
        let mut unknown = all(c, |_| Answer::No);
        unknown.insert("irreversible_migrations".into(), Answer::Unknown);
        assert!(c.verdict(&unknown).starts_with("Find out"));
    }

    #[test]
    fn a_replay_names_what_stands_in_its_way() {
        let c = Checklist::Replay;
        assert!(c.verdict(&all(c, |i| i.safe)).starts_with("Safe to replay"));
        let mut answers = all(c, |i| i.safe);
        answers.insert("consumer_idempotent".into(), Answer::No);
        assert!(c.verdict(&answers).contains("Is the consumer idempotent"));
    }

    #[test]
    fn every_question_needs_an_answer_and_a_replay_needs_an_incident() {
        let errors = ChecklistForRecord::parse(Checklist::Replay, &ChecklistForm::default()).unwrap_err();
        assert!(errors.contains("consumer_idempotent") && errors.contains("incident_id"), "{errors:?}");
        let readiness = ChecklistForm(READINESS.iter().map(|i| (i.key.to_string(), "YES".to_string())).collect());
        assert!(ChecklistForRecord::parse(Checklist::ProductionReadiness, &readiness).is_ok(), "platform-wide");
    }
}
