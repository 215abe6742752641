//! Mitigation controls in the console (lesson §11.4, §19.3): the platform's switches — pause the outbox
//! relay, pause a consumer group, disable quote acceptance for a tenant, pause orchestration starts — as
//! commands with a reason and the incident they mitigate. The switch itself is `platform::control` (the
//! workers read it within seconds); this module decides who may flip which, records a consumer pause with
//! the §11.4 fields in `ops.consumer_pause`, and writes the change on the incident's timeline.
//!
//! Scope: a tenant's switch needs that tenant in the actor's scope; a platform-wide switch (the relay, a
//! consumer group, every tenant's starts) needs every tenant.

use chrono::{DateTime, Utc};
use platform::control::{Control, ControlChange, ControlState};
use platform::ids::TenantId;
use platform::named_enum;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::command::{read, run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors};
use crate::identity::{Actor, ActorKind};
use crate::ids::IncidentId;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::{EventKind, require_active_incident};

pub mod banner;

named_enum!(/// The kinds of switch the console offers.
Switch {
    /// Every relay stops claiming outbox events (the backlog grows; nothing is lost).
    Relay => "relay",
    /// One consumer group stops consuming (its lag grows; nothing is lost).
    Consumer => "consumer",
    /// `accept_quote` refuses for one tenant (customers cannot accept quotes).
    QuoteAcceptance => "quote-acceptance",
    /// Orchestration starts wait, for one tenant or for every tenant (orders stay CAPTURED).
    OrchestrationStarts => "orchestration-starts",
});

impl Switch {
    pub fn title(self) -> &'static str {
        match self {
            Switch::Relay => "Outbox relay paused",
            Switch::Consumer => "Consumer group paused",
            Switch::QuoteAcceptance => "Quote acceptance disabled",
            Switch::OrchestrationStarts => "Orchestration starts paused",
        }
    }

    /// What it does to customers while on: the banner's words.
    pub fn effect(self) -> &'static str {
        match self {
            Switch::Relay => "events are not published: confirmations, projections and downstream systems wait",
            Switch::Consumer => "the group's records wait in Kafka: what it updates goes stale",
            Switch::QuoteAcceptance => "customers cannot accept quotes",
            Switch::OrchestrationStarts => "new orders are captured but not fulfilled",
        }
    }

    /// Whether customers notice it directly (§19.3 "customer-impacting flows disabled").
    pub fn customer_impacting(self) -> bool {
        matches!(self, Switch::QuoteAcceptance | Switch::OrchestrationStarts)
    }

    fn of(control_type: &str) -> Option<Switch> {
        match control_type {
            platform::relay::PAUSE_RELAY => Some(Switch::Relay),
            platform::projection::PAUSE_CONSUMER => Some(Switch::Consumer),
            platform::control::DISABLE_QUOTE_ACCEPTANCE => Some(Switch::QuoteAcceptance),
            platform::orchestration::PAUSE_ORCHESTRATION_STARTS => Some(Switch::OrchestrationStarts),
            _ => None,
        }
    }
}

crate::form! {
    /// Turning a switch on or off. A consumer pause also takes the §11.4 fields.
    pub struct ControlForm / ControlFields {
        switch: String,
        tenant: String,
        group: String,
        /// "on" or "off".
        state: String,
        reason: String,
        incident_id: String,
        partitions: String,
        owner: String,
        expected_resume_condition: String,
        customer_impact: String,
    }
}

/// What a consumer pause records beyond the switch (lesson §11.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseDetails {
    pub partitions: Option<Vec<i32>>,
    pub owner: String,
    pub expected_resume_condition: String,
    pub customer_impact: String,
}

/// A control change that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlForSet {
    pub switch: Switch,
    pub control: Control,
    pub on: bool,
    pub reason: String,
    pub incident: Option<IncidentId>,
    pub pause: Option<PauseDetails>,
}

/// A consumer group name as Kafka allows it.
fn group_name(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<String> {
    let group = input.trim();
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if group.is_empty() {
        errors.add(field, "Name the consumer group");
        None
    } else if group.len() > 200 || !group.chars().all(legal) {
        errors.add(field, "A consumer group name has only letters, digits, '.', '_' and '-'");
        None
    } else {
        Some(group.to_string())
    }
}

fn partition_list(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<Vec<i32>> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    let parsed: std::result::Result<Vec<i32>, _> = input.split(',').map(|p| p.trim().parse::<i32>()).collect();
    match parsed {
        Ok(list) if list.iter().all(|p| *p >= 0) => {
            let mut list = list;
            list.sort_unstable();
            list.dedup();
            Some(list)
        }
        _ => {
            errors.add(field, "Partitions are numbers separated by commas (empty: every partition)");
            None
        }
    }
}

impl ControlForSet {
    pub fn parse(form: &ControlForm) -> std::result::Result<Self, FieldErrors> {
        let f = ControlForm::FIELDS;
        let mut e = FieldErrors::new();
        let switch = parse::choice::<Switch>(&mut e, f.switch, &form.switch, "a switch");
        let on = match form.state.trim() {
            "on" => Some(true),
            "off" => Some(false),
            _ => {
                e.add(f.state, "Choose on or off");
                None
            }
        };
        let reason = parse::Reason::parse(&mut e, f.reason, &form.reason);
        let incident = if form.incident_id.trim().is_empty() && on == Some(true) {
            e.add(f.incident_id, "A mitigation belongs to an incident: choose the one it mitigates");
            None
        } else {
            parse::optional_incident(&mut e, f.incident_id, &form.incident_id, "Choose an incident from the list")
        };
        let tenant = match form.tenant.trim() {
            "" => None,
            text => match TenantId::parse(text) {
                Ok(t) => Some(t),
                Err(_) => {
                    e.add(f.tenant, "Choose a tenant from the list");
                    None
                }
            },
        };
        let control = match switch {
            Some(Switch::Relay) => Some(Control::PauseRelay),
            Some(Switch::Consumer) => group_name(&mut e, f.group, &form.group).map(|group| Control::PauseConsumer { group }),
            Some(Switch::QuoteAcceptance) => match tenant {
                Some(tenant) => Some(Control::DisableQuoteAcceptance { tenant }),
                None => {
                    if !e.contains(f.tenant) {
                        e.add(f.tenant, "Quote acceptance is switched per tenant: choose one");
                    }
                    None
                }
            },
            Some(Switch::OrchestrationStarts) => Some(Control::PauseOrchestrationStarts { tenant }),
            None => None,
        };
        let pause = (switch == Some(Switch::Consumer) && on == Some(true)).then(|| {
            let partitions = partition_list(&mut e, f.partitions, &form.partitions);
            let owner = parse::required_text(&mut e, f.owner, &form.owner, parse::MAX_LINE, "Say who owns the pause");
            let condition = parse::required_text(
                &mut e,
                f.expected_resume_condition,
                &form.expected_resume_condition,
                parse::MAX_TEXT,
                "Say when it can resume",
            );
            let impact =
                parse::required_text(&mut e, f.customer_impact, &form.customer_impact, parse::MAX_TEXT, "Say what customers notice");
            (partitions, owner, condition, impact)
        });
        e.finish(|| ControlForSet {
            switch: switch.expect("checked"),
            control: control.expect("checked"),
            on: on.expect("checked"),
            reason: reason.expect("checked").as_str().to_string(),
            incident,
            pause: pause.map(|(partitions, owner, condition, impact)| PauseDetails {
                partitions,
                owner: owner.expect("checked"),
                expected_resume_condition: condition.expect("checked"),
                customer_impact: impact.expect("checked"),
            }),
        })
    }
}

/// A switch as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchView {
    pub switch: Switch,
    pub control_key: String,
    pub tenant_id: Option<TenantId>,
    pub target: Option<String>,
    pub on: bool,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    /// The incident of the change that set the current state.
    pub incident_id: Option<IncidentId>,
    /// The open consumer pause's §11.4 record, for a paused group.
    pub pause: Option<ConsumerPause>,
}

/// An explicit consumer pause (lesson §11.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConsumerPause {
    pub pause_id: Uuid,
    pub consumer_group: String,
    pub topic: String,
    pub partitions: Option<Vec<i32>>,
    pub reason: String,
    pub owner: String,
    pub expected_resume_condition: String,
    pub customer_impact: String,
    pub incident_id: Option<IncidentId>,
    pub started_at: DateTime<Utc>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub resumed_by: Option<String>,
}

/// The topic a consumer group reads: the projection consumer's for its groups (the only consumers the
/// reference platform runs).
fn topic_of(_group: &str) -> String {
    platform::projection::ProjectionConfig::new("", "").topic()
}

/// Turns a switch on or off (see the module doc). Answers the switch's new state.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, switch = %input.switch, on = input.on))]
pub async fn set_control(pool: &PgPool, actor: &Actor, input: &ControlForSet) -> Result<SwitchView> {
    let mut envelope = Envelope::new(actor, Action::ControlSet).reason(&input.reason);
    if let Some(incident) = input.incident {
        envelope = envelope.incident(incident);
    }
    run(pool, envelope, async |cx| {
        let tenant = input.control.tenant();
        if let Some(incident) = input.incident {
            require_active_incident(cx, incident, ControlForm::FIELDS.incident_id, tenant).await?;
        }
        // The audit line is filed under the switch's tenant; a platform-wide switch needs every tenant.
        cx.require_tenants(&tenant.into_iter().collect::<Vec<_>>())?;

        let who = cx.actor_display();
        let current = current_state(cx.db(), &input.control.key()).await?;
        if current.as_ref().map(|s| s.enabled).unwrap_or(false) == input.on {
            return Err(Error::rule(format!("{} is already {}", describe(&input.control), if input.on { "on" } else { "off" })));
        }
        let change = ControlChange {
            control: input.control.clone(),
            enabled: input.on,
            reason: input.reason.clone(),
            actor: who.clone(),
            incident_id: input.incident.map(Into::into),
        };
        let state = platform::control::set_control(cx.db(), &change).await?;
        let pause = match (&input.control, input.on) {
            (Control::PauseConsumer { group }, true) => Some(open_pause(cx, group, input, &who).await?),
            (Control::PauseConsumer { group }, false) => resume_pause(cx.db(), group, &who).await?,
            _ => None,
        };
        if let Some(incident) = input.incident {
            let headline = format!("{} {}: {}", describe(&input.control), if input.on { "on" } else { "off" }, input.reason);
            timeline::append(
                cx.db(),
                NewEvent {
                    incident_id: incident,
                    kind: EventKind::System,
                    event_type: timeline::event_type::CONTROL_CHANGED,
                    actor: &who,
                    headline,
                    body: json!({ "control_key": state.control_key, "enabled": input.on, "reason": input.reason, "pause": pause }),
                    entities: &[],
                },
            )
            .await?;
        }
        cx.record(json!({ "control_key": state.control_key, "enabled": input.on, "version": state.version }));
        Ok(view(state, input.incident, pause))
    })
    .await
}

async fn current_state(db: &mut PgConnection, key: &str) -> Result<Option<ControlState>> {
    Ok(sqlx::query_as::<_, ControlState>(
        "select control_key, control_type, tenant_id, target, enabled, reason, changed_by, changed_at, version
         from ops.platform_control where control_key = $1 for update",
    )
    .bind(key)
    .fetch_optional(db)
    .await?)
}

async fn open_pause(cx: &mut Cx<'_>, group: &str, input: &ControlForSet, who: &str) -> Result<ConsumerPause> {
    let details = input.pause.as_ref().ok_or_else(|| Error::Internal("a consumer pause without its details".into()))?;
    Ok(sqlx::query_as::<_, ConsumerPause>(
        "insert into ops.consumer_pause (pause_id, consumer_group, topic, partitions, reason, owner,
            expected_resume_condition, customer_impact, incident_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning pause_id, consumer_group, topic, partitions, reason, owner, expected_resume_condition, customer_impact,
                   incident_id, started_at, resumed_at, resumed_by",
    )
    .bind(Uuid::now_v7())
    .bind(group)
    .bind(topic_of(group))
    .bind(&details.partitions)
    .bind(&input.reason)
    .bind(if details.owner.is_empty() { who } else { details.owner.as_str() })
    .bind(&details.expected_resume_condition)
    .bind(&details.customer_impact)
    .bind(input.incident)
    .fetch_one(cx.db())
    .await?)
}

async fn resume_pause(db: &mut PgConnection, group: &str, who: &str) -> Result<Option<ConsumerPause>> {
    Ok(sqlx::query_as::<_, ConsumerPause>(
        "update ops.consumer_pause set resumed_at = now(), resumed_by = $2
         where consumer_group = $1 and resumed_at is null
         returning pause_id, consumer_group, topic, partitions, reason, owner, expected_resume_condition, customer_impact,
                   incident_id, started_at, resumed_at, resumed_by",
    )
    .bind(group)
    .bind(who)
    .fetch_optional(db)
    .await?)
}

/// "Quote acceptance disabled for 10000000-…", "Consumer group paused: order-projection".
pub fn describe(control: &Control) -> String {
    match control {
        Control::PauseRelay => "Outbox relay paused".to_string(),
        Control::PauseConsumer { group } => format!("Consumer group {group} paused"),
        Control::DisableQuoteAcceptance { tenant } => format!("Quote acceptance disabled for tenant {tenant}"),
        Control::PauseOrchestrationStarts { tenant: None } => "Orchestration starts paused for every tenant".to_string(),
        Control::PauseOrchestrationStarts { tenant: Some(t) } => format!("Orchestration starts paused for tenant {t}"),
    }
}

fn view(state: ControlState, incident: Option<IncidentId>, pause: Option<ConsumerPause>) -> SwitchView {
    SwitchView {
        switch: Switch::of(&state.control_type).unwrap_or(Switch::Relay),
        control_key: state.control_key,
        tenant_id: state.tenant_id,
        target: state.target,
        on: state.enabled,
        reason: state.reason,
        changed_by: state.changed_by,
        changed_at: state.changed_at,
        incident_id: incident,
        pause: pause.filter(|p| p.resumed_at.is_none()),
    }
}

#[derive(sqlx::FromRow)]
struct SwitchRow {
    control_key: String,
    control_type: String,
    tenant_id: Option<TenantId>,
    target: Option<String>,
    enabled: bool,
    reason: String,
    changed_by: String,
    changed_at: DateTime<Utc>,
    version: i64,
    incident_id: Option<IncidentId>,
}

/// Every switch the actor may see (its tenant's, and the platform-wide ones), on or off, with the open
/// consumer pauses. `only_on` keeps the switches that are on: what the banner shows, on every page, so
/// a person's banner is served from [`banner`] (at most [`banner::FRESH`] old, emptied by every command).
pub async fn switches(pool: &PgPool, actor: &Actor, only_on: bool) -> Result<Vec<SwitchView>> {
    // Only what a person may read anyway, and whose read would not be audited (a service's reads are).
    let shared = only_on
        && actor.kind == ActorKind::User
        && actor.may(Action::ControlList.permission());
    if !shared {
        return read(pool, Envelope::new(actor, Action::ControlList), async |cx| switches_in(cx.db(), actor, only_on).await)
            .await;
    }
    let database = banner::database_of(pool);
    let on = match banner::SWITCHES_ON.fresh(&database) {
        Some(on) => on,
        None => {
            let changes = banner::SWITCHES_ON.changes();
            let on = read(pool, Envelope::new(actor, Action::ControlList), async |cx| every_switch_in(cx.db(), true).await)
                .await?;
            banner::SWITCHES_ON.keep(&database, changes, &on);
            on
        }
    };
    Ok(on.into_iter().filter(|s| visible_to(actor, s)).collect())
}

fn visible_to(actor: &Actor, switch: &SwitchView) -> bool {
    switch.tenant_id.is_none_or(|t| actor.can_see_tenant(t))
}

/// [`switches`] inside a read the caller has authorised (with the same permission as `ControlList`).
async fn switches_in(db: &mut sqlx::PgConnection, actor: &Actor, only_on: bool) -> Result<Vec<SwitchView>> {
    Ok(every_switch_in(db, only_on).await?.into_iter().filter(|s| visible_to(actor, s)).collect())
}

/// Every tenant's switches: for [`switches_in`] to narrow to what an actor may see.
async fn every_switch_in(db: &mut sqlx::PgConnection, only_on: bool) -> Result<Vec<SwitchView>> {
    {
        let rows = sqlx::query_as::<_, SwitchRow>(
            "select c.control_key, c.control_type, c.tenant_id, c.target, c.enabled, c.reason, c.changed_by, c.changed_at,
                    c.version, last.incident_id
             from ops.platform_control c
             left join lateral (select incident_id from ops.platform_control_change h
                                where h.control_key = c.control_key order by changed_at desc, change_id desc limit 1) last on true
             where c.enabled or not $1
             order by c.enabled desc, c.changed_at desc",
        )
        .bind(only_on)
        .fetch_all(&mut *db)
        .await?;
        let pauses = sqlx::query_as::<_, ConsumerPause>(
            "select pause_id, consumer_group, topic, partitions, reason, owner, expected_resume_condition, customer_impact,
                    incident_id, started_at, resumed_at, resumed_by
             from ops.consumer_pause where resumed_at is null",
        )
        .fetch_all(&mut *db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let pause = pauses.iter().find(|p| Some(&p.consumer_group) == r.target.as_ref() && r.enabled).cloned();
                let state = ControlState {
                    control_key: r.control_key,
                    control_type: r.control_type,
                    tenant_id: r.tenant_id,
                    target: r.target,
                    enabled: r.enabled,
                    reason: r.reason,
                    changed_by: r.changed_by,
                    changed_at: r.changed_at,
                    version: r.version,
                };
                view(state, r.incident_id, pause)
            })
            .collect())
    }
}

/// The consumer pauses, newest first (open and resumed): the §11.4 register.
pub async fn consumer_pauses(pool: &PgPool, actor: &Actor, limit: i64) -> Result<Vec<ConsumerPause>> {
    read(pool, Envelope::new(actor, Action::ControlList), async |cx| {
        Ok(sqlx::query_as::<_, ConsumerPause>(
            "select pause_id, consumer_group, topic, partitions, reason, owner, expected_resume_condition, customer_impact,
                    incident_id, started_at, resumed_at, resumed_by
             from ops.consumer_pause order by started_at desc limit $1",
        )
        .bind(limit)
        .fetch_all(cx.db())
        .await?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(switch: &str, state: &str) -> ControlForm {
        ControlForm {
            switch: switch.into(),
            state: state.into(),
            reason: "vendor outage: stop new orders".into(),
            incident_id: IncidentId::new().to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn turning_a_switch_on_needs_an_incident_and_a_reason() {
        let mut f = form("relay", "on");
        f.incident_id.clear();
        f.reason = "x".into();
        let errors = ControlForSet::parse(&f).unwrap_err();
        assert!(errors.contains("incident_id") && errors.contains("reason"), "{errors:?}");
        let mut off = form("relay", "off");
        off.incident_id.clear();
        assert!(ControlForSet::parse(&off).is_ok(), "turning it off may stand alone");
    }

    #[test]
    fn a_consumer_pause_needs_the_lesson_fields_and_a_legal_group() {
        let mut f = form("consumer", "on");
        f.group = "order projection".into();
        f.partitions = "0, x".into();
        let errors = ControlForSet::parse(&f).unwrap_err();
        for field in ["group", "partitions", "owner", "expected_resume_condition", "customer_impact"] {
            assert!(errors.contains(field), "{field}: {errors:?}");
        }
        f.group = "order-projection".into();
        f.partitions = "2,0,2".into();
        f.owner = "oscar".into();
        f.expected_resume_condition = "the poison record is quarantined".into();
        f.customer_impact = "order status pages lag".into();
        let parsed = ControlForSet::parse(&f).unwrap();
        assert_eq!(parsed.control, Control::PauseConsumer { group: "order-projection".into() });
        assert_eq!(parsed.pause.unwrap().partitions, Some(vec![0, 2]));
    }

    #[test]
    fn quote_acceptance_is_per_tenant() {
        let errors = ControlForSet::parse(&form("quote-acceptance", "on")).unwrap_err();
        assert!(errors.contains("tenant"), "{errors:?}");
        let mut f = form("quote-acceptance", "on");
        f.tenant = platform::tenants::ACME.to_string();
        assert_eq!(ControlForSet::parse(&f).unwrap().control, Control::DisableQuoteAcceptance { tenant: platform::tenants::ACME });
    }
}
