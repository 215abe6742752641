//! Releases in the console (lesson §16): which version serves each tenant ring, and the recovery choice
//! after a bad deployment — roll back to the version it replaced, or roll forward to a fixed one. A
//! change is a mitigation like a switch (the `control.set` command: operators may, in their tenants),
//! always with a reason, and on an incident's timeline when one is named. It only stops new damage: the
//! orders the defect stalled are recovered by repairs (retry-engine-job), and the rollback safety
//! checklist (§16.2) is recorded on the incident beside it.

use platform::ids::TenantId;
use platform::named_enum;
use platform::release::{self, Release};
use serde_json::json;
use sqlx::PgPool;

use crate::command::{read, run, Action, Envelope};
use crate::error::Result;
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;
use crate::ids::IncidentId;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::{require_active_incident, EventKind};

named_enum!(/// The way out of a bad release.
ReleaseChoice {
    Rollback => "rollback",
    RollForward => "roll-forward",
});

crate::form! {
    /// Rolling a tenant's release back or forward.
    pub struct ReleaseForm / ReleaseFields {
        tenant: String,
        /// "rollback" or "roll-forward".
        choice: String,
        /// The fixed version, for a roll-forward.
        version: String,
        reason: String,
        incident_id: String,
    }
}

/// A release change that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseForChange {
    pub tenant: TenantId,
    pub choice: ReleaseChoice,
    pub version: Option<String>,
    pub reason: String,
    pub incident: Option<IncidentId>,
}

impl ReleaseForChange {
    pub fn parse(form: &ReleaseForm) -> std::result::Result<Self, FieldErrors> {
        let f = ReleaseForm::FIELDS;
        let mut e = FieldErrors::new();
        let tenant = match TenantId::parse(form.tenant.trim()) {
            Ok(t) => Some(t),
            Err(_) => {
                e.add(f.tenant, "Choose the tenant whose release changes");
                None
            }
        };
        let choice = parse::choice::<ReleaseChoice>(&mut e, f.choice, &form.choice, "rollback or roll-forward");
        let version = match (choice, form.version.trim()) {
            (Some(ReleaseChoice::RollForward), "") => {
                e.add(f.version, "Name the fixed version to roll forward to");
                None
            }
            (Some(ReleaseChoice::RollForward), v) => {
                let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+');
                if v.len() > 64 || !v.chars().all(legal) {
                    e.add(f.version, "A version is letters, digits, '.', '-', '_' or '+' (at most 64)");
                }
                Some(v.to_string())
            }
            _ => None,
        };
        let reason = parse::Reason::parse(&mut e, f.reason, &form.reason);
        let incident = parse::optional_incident(&mut e, f.incident_id, &form.incident_id, "Choose an incident from the list");
        e.finish(|| ReleaseForChange {
            tenant: tenant.expect("checked"),
            choice: choice.expect("checked"),
            version,
            reason: reason.expect("checked").as_str().to_string(),
            incident,
        })
    }
}

/// Rolls a tenant's release back or forward (see the module doc); answers the release now serving it.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, tenant = %input.tenant, choice = %input.choice))]
pub async fn change_release(pool: &PgPool, actor: &Actor, input: &ReleaseForChange) -> Result<Release> {
    let mut envelope = Envelope::new(actor, Action::ControlSet).tenant(input.tenant).reason(&input.reason);
    if let Some(incident) = input.incident {
        envelope = envelope.incident(incident);
    }
    run(pool, envelope, async |cx| {
        if let Some(incident) = input.incident {
            require_active_incident(cx, incident, ReleaseForm::FIELDS.incident_id, Some(input.tenant)).await?;
        }
        cx.require_tenants(&[input.tenant])?;
        let who = cx.actor_display();
        let incident = input.incident.map(|i| i.as_uuid());
        let before = release::current(cx.db(), input.tenant).await?;
        let now = match input.choice {
            ReleaseChoice::Rollback => release::rollback(cx.db(), input.tenant, &input.reason, &who, incident).await?,
            ReleaseChoice::RollForward => {
                let version = input.version.as_deref().unwrap_or_default();
                release::roll_forward(cx.db(), input.tenant, version, &input.reason, &who, incident).await?
            }
        };
        let from = before.map(|r| r.version).unwrap_or_else(|| release::BASELINE.to_string());
        if let Some(incident) = input.incident {
            timeline::append(
                cx.db(),
                NewEvent {
                    incident_id: incident,
                    kind: EventKind::System,
                    event_type: timeline::event_type::CONTROL_CHANGED,
                    actor: &who,
                    headline: format!("Release {from} → {} ({}): {}", now.version, input.choice, input.reason),
                    body: json!({ "release_id": now.release_id, "from": from, "to": now.version, "kind": now.kind }),
                    entities: &[],
                },
            )
            .await?;
        }
        cx.about("release", now.release_id);
        cx.record(json!({ "tenant": input.tenant, "from": from, "to": now.version, "kind": now.kind }));
        Ok(now)
    })
    .await
}

/// The release history the actor may see, newest first: the first row of a tenant is what serves it.
pub async fn releases(pool: &PgPool, actor: &Actor) -> Result<Vec<Release>> {
    read(pool, Envelope::new(actor, Action::ControlList), async |_cx| {
        Ok(release::history(pool, 200).await?.into_iter().filter(|r| actor.can_see_tenant(r.tenant_id)).collect())
    })
    .await
}
