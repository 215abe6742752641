//! Action items of a post-incident review (lesson §21.1: action, owner, due date, type,
//! prevent/detect/recover), their completion (OPEN → DONE, and back), and the overdue view across
//! incidents. An item can be written without owner or due date while the review is drafted, but a
//! SEV1/SEV2 does not close until each has both; once the incident is CLOSED, items are still tracked
//! (completed, re-dated, re-owned) but can no longer lose their owner or due date.

use chrono::{DateTime, NaiveDate, Utc};
use platform::ids::TenantId;
use platform::named_enum;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::pir::ensure_review;
use crate::command::{read, run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::parse::{self as form, MAX_LINE, MAX_TEXT};
use crate::form::FieldErrors;
use crate::identity::{Actor, TenantScope};
use crate::ids::{ActionItemId, IncidentId};
use crate::incident::command::{check_version, lock_incident, Locked, AUDIT_ENTITY};
use crate::incident::model::{stored, EventKind, IncidentStatus, Severity};
use crate::incident::timeline::{self, event_type, first_line, NewEvent};

named_enum!(/// What kind of change an action item is.
ActionItemType {
    Test => "TEST",
    Alert => "ALERT",
    Runbook => "RUNBOOK",
    /// A change of the system's design (lesson §26.9 names it beside tests, alerts and runbooks).
    Architecture => "ARCHITECTURE",
    Dashboard => "DASHBOARD",
    Control => "CONTROL",
    CodeFix => "CODE_FIX",
    Process => "PROCESS",
});

impl ActionItemType {
    /// Whether the item improves a test, an alert, a runbook or the architecture: a SEV1/SEV2 closes only
    /// with at least one such item (lesson §26.9).
    pub fn improves_the_system(self) -> bool {
        matches!(self, ActionItemType::Test | ActionItemType::Alert | ActionItemType::Runbook | ActionItemType::Architecture)
    }
}

named_enum!(/// Whether it prevents, detects or recovers (lesson §21.1).
ActionCategory {
    Prevent => "PREVENT",
    Detect => "DETECT",
    Recover => "RECOVER",
});

named_enum!(/// Whether it is done.
ActionItemStatus {
    Open => "OPEN",
    Done => "DONE",
});

crate::form! {
    /// The action item form as sent (add and edit post the same fields).
    pub struct ActionItemForm / ActionItemFields {
        /// The item's version when the form was rendered (edit only).
        version: String,
        action: String,
        owner: String,
        due_date: String,
        item_type: String,
        category: String,
    }
}

crate::form! {
    /// Marking an item done (or open again).
    pub struct ActionItemStatusForm / ActionItemStatusFields {
        version: String,
        status: String,
        /// The console page to return to (the register's overdue list); blank: the incident.
        next: String,
    }
}

/// An action item that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItemForSave {
    pub action: String,
    pub owner: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub item_type: ActionItemType,
    pub category: ActionCategory,
}

/// "Be more careful" is not an action item (lesson §21.2); the table asks for 10 characters at least.
pub const MIN_ACTION_CHARS: usize = 10;

impl ActionItemForSave {
    pub fn parse(form: &ActionItemForm) -> std::result::Result<Self, FieldErrors> {
        let f = ActionItemForm::FIELDS;
        let mut e = FieldErrors::new();
        let action = form::required_text(&mut e, f.action, &form.action, MAX_TEXT, "Say what will be done");
        if action.as_ref().is_some_and(|a| a.chars().count() < MIN_ACTION_CHARS) {
            e.add(f.action, format!("Say concretely what will be done (at least {MIN_ACTION_CHARS} characters)"));
        }
        let owner = form::optional_text(&mut e, f.owner, &form.owner, MAX_LINE);
        let due_date = form::optional_date(&mut e, f.due_date, &form.due_date);
        let item_type = form::choice::<ActionItemType>(&mut e, f.item_type, &form.item_type, "a type");
        let category = form::choice::<ActionCategory>(&mut e, f.category, &form.category, "prevent, detect or recover");
        e.finish(|| ActionItemForSave {
            action: action.expect("checked"),
            owner,
            due_date,
            item_type: item_type.expect("checked"),
            category: category.expect("checked"),
        })
    }
}

/// An action item as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItem {
    pub action_item_id: ActionItemId,
    pub incident_id: IncidentId,
    pub action: String,
    pub owner: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub item_type: ActionItemType,
    pub category: ActionCategory,
    pub status: ActionItemStatus,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    /// OPEN and due before today (UTC).
    pub overdue: bool,
}

impl ActionItem {
    /// The form pre-filled with this item.
    pub fn to_form(&self) -> ActionItemForm {
        ActionItemForm {
            version: self.version.to_string(),
            action: self.action.clone(),
            owner: self.owner.clone().unwrap_or_default(),
            due_date: self.due_date.map(|d| d.to_string()).unwrap_or_default(),
            item_type: self.item_type.as_str().into(),
            category: self.category.as_str().into(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    action_item_id: ActionItemId,
    incident_id: IncidentId,
    action: String,
    owner: Option<String>,
    due_date: Option<NaiveDate>,
    item_type: String,
    category: String,
    status: String,
    completed_at: Option<DateTime<Utc>>,
    version: i64,
}

impl ItemRow {
    fn into_item(self, today: NaiveDate) -> Result<ActionItem> {
        let status: ActionItemStatus = stored(&self.status)?;
        Ok(ActionItem {
            overdue: status == ActionItemStatus::Open && self.due_date.is_some_and(|d| d < today),
            action_item_id: self.action_item_id,
            incident_id: self.incident_id,
            action: self.action,
            owner: self.owner,
            due_date: self.due_date,
            item_type: stored(&self.item_type)?,
            category: stored(&self.category)?,
            status,
            completed_at: self.completed_at,
            version: self.version,
        })
    }
}

const ITEM_COLUMNS: &str =
    "action_item_id, incident_id, action, owner, due_date, item_type, category, status, completed_at, version";

/// The incident's action items, in the order they were added. Relies on `ix_action_item_incident`.
pub(crate) async fn items_of(db: &mut PgConnection, incident_id: IncidentId) -> Result<Vec<ActionItem>> {
    let today = Utc::now().date_naive();
    sqlx::query_as::<_, ItemRow>(&format!(
        "select {ITEM_COLUMNS} from ops.action_item where incident_id = $1 order by created_at, action_item_id"
    ))
    .bind(incident_id)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| r.into_item(today))
    .collect()
}

/// What adding or changing an item did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItemSaved {
    pub action_item_id: ActionItemId,
    pub version: i64,
    pub status: ActionItemStatus,
}

/// A closed incident's items keep their owner and due date.
fn check_closed_rules(locked: &Locked, input: &ActionItemForSave) -> Result<()> {
    if locked.status == IncidentStatus::Closed {
        let mut errors = FieldErrors::new();
        if input.owner.is_none() {
            errors.add("owner", "The incident is closed: its action items keep an owner");
        }
        if input.due_date.is_none() {
            errors.add("due_date", "The incident is closed: its action items keep a due date");
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
    }
    Ok(())
}

/// Adds an action item (creating the review draft if there is none yet).
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject), err(Display))]
pub async fn add_action_item(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    input: &ActionItemForSave,
) -> Result<ActionItemSaved> {
    let envelope = Envelope::new(actor, Action::ActionItemAdd).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| add_in(cx, incident_id, input).await).await
}

pub(crate) async fn add_in(cx: &mut Cx<'_>, incident_id: IncidentId, input: &ActionItemForSave) -> Result<ActionItemSaved> {
    let locked = lock_incident(cx, incident_id).await?;
    check_closed_rules(&locked, input)?;
    let who = cx.actor_display();
    let tx = cx.db();
    let review_id = ensure_review(tx, incident_id, &who).await?;
    let action_item_id = ActionItemId::new();
    sqlx::query(
        "insert into ops.action_item (action_item_id, review_id, incident_id, action, owner, due_date, item_type, category)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(action_item_id)
    .bind(review_id)
    .bind(incident_id)
    .bind(&input.action)
    .bind(&input.owner)
    .bind(input.due_date)
    .bind(input.item_type.as_str())
    .bind(input.category.as_str())
    .execute(&mut *tx)
    .await?;
    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::ACTION_ITEM_ADDED,
            actor: &who,
            headline: format!(
                "Action item added ({}, {}): {}",
                input.item_type,
                input.category,
                first_line(&input.action, 100)
            ),
            body: json!({ "action_item_id": action_item_id, "item": input }),
            entities: &[],
        },
    )
    .await?;
    cx.record(json!({ "action_item_id": action_item_id }));
    Ok(ActionItemSaved { action_item_id, version: 1, status: ActionItemStatus::Open })
}

/// Loads the item and its incident, locked, and checks scope and version.
async fn lock_item(
    cx: &mut Cx<'_>,
    action_item_id: ActionItemId,
    expected_version: i64,
) -> Result<(Locked, ActionItem)> {
    let incident_id: IncidentId =
        sqlx::query_scalar("select incident_id from ops.action_item where action_item_id = $1")
            .bind(action_item_id)
            .fetch_optional(cx.db())
            .await?
            .ok_or_else(|| Error::not_found("action item", action_item_id))?;
    cx.about(AUDIT_ENTITY, incident_id);
    let locked = lock_incident(cx, incident_id).await?;
    let item = sqlx::query_as::<_, ItemRow>(&format!(
        "select {ITEM_COLUMNS} from ops.action_item where action_item_id = $1 for update"
    ))
    .bind(action_item_id)
    .fetch_one(cx.db())
    .await?
    .into_item(Utc::now().date_naive())?;
    check_version("action item", action_item_id, expected_version, item.version)?;
    Ok((locked, item))
}

/// Changes an item's action, owner, due date, type or category.
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject), err(Display))]
pub async fn update_action_item(
    pool: &PgPool,
    actor: &Actor,
    action_item_id: ActionItemId,
    expected_version: i64,
    input: &ActionItemForSave,
) -> Result<ActionItemSaved> {
    let envelope = Envelope::new(actor, Action::ActionItemEdit);
    run(pool, envelope, async |cx| update_in(cx, action_item_id, expected_version, input).await).await
}

async fn update_in(
    cx: &mut Cx<'_>,
    action_item_id: ActionItemId,
    expected_version: i64,
    input: &ActionItemForSave,
) -> Result<ActionItemSaved> {
    let (locked, item) = lock_item(cx, action_item_id, expected_version).await?;
    check_closed_rules(&locked, input)?;
    let who = cx.actor_display();
    let tx = cx.db();
    let version: i64 = sqlx::query_scalar(
        "update ops.action_item set action = $2, owner = $3, due_date = $4, item_type = $5, category = $6,
           version = version + 1, updated_at = now()
         where action_item_id = $1 returning version",
    )
    .bind(action_item_id)
    .bind(&input.action)
    .bind(&input.owner)
    .bind(input.due_date)
    .bind(input.item_type.as_str())
    .bind(input.category.as_str())
    .fetch_one(&mut *tx)
    .await?;
    timeline::append(
        tx,
        NewEvent {
            incident_id: locked.incident_id,
            kind: EventKind::System,
            event_type: event_type::ACTION_ITEM_CHANGED,
            actor: &who,
            headline: format!("Action item changed: {}", first_line(&input.action, 100)),
            body: json!({ "action_item_id": action_item_id, "version": version, "before": item.to_form(), "item": input }),
            entities: &[],
        },
    )
    .await?;
    cx.record(json!({ "action_item_id": action_item_id, "version": version }));
    Ok(ActionItemSaved { action_item_id, version, status: item.status })
}

/// Marks an item DONE (or OPEN again), with the time of completion.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject), err(Display))]
pub async fn set_action_item_status(
    pool: &PgPool,
    actor: &Actor,
    action_item_id: ActionItemId,
    expected_version: i64,
    status: ActionItemStatus,
) -> Result<ActionItemSaved> {
    let envelope = Envelope::new(actor, Action::ActionItemStatus);
    run(pool, envelope, async |cx| set_status_in(cx, action_item_id, expected_version, status).await).await
}

async fn set_status_in(
    cx: &mut Cx<'_>,
    action_item_id: ActionItemId,
    expected_version: i64,
    status: ActionItemStatus,
) -> Result<ActionItemSaved> {
    let (locked, item) = lock_item(cx, action_item_id, expected_version).await?;
    if item.status == status {
        return Err(Error::rule(format!("the action item is already {status}")));
    }
    let who = cx.actor_display();
    let tx = cx.db();
    let version: i64 = sqlx::query_scalar(
        "update ops.action_item set status = $2, completed_at = case when $2 = 'DONE' then now() end,
           version = version + 1, updated_at = now()
         where action_item_id = $1 returning version",
    )
    .bind(action_item_id)
    .bind(status.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let verb = if status == ActionItemStatus::Done { "done" } else { "reopened" };
    timeline::append(
        tx,
        NewEvent {
            incident_id: locked.incident_id,
            kind: EventKind::System,
            event_type: event_type::ACTION_ITEM_CHANGED,
            actor: &who,
            headline: format!("Action item {verb}: {}", first_line(&item.action, 100)),
            body: json!({ "action_item_id": action_item_id, "version": version, "status": status }),
            entities: &[],
        },
    )
    .await?;
    cx.record(json!({ "action_item_id": action_item_id, "status": status, "version": version }));
    Ok(ActionItemSaved { action_item_id, version, status })
}

/// An overdue action item, with the incident it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueActionItem {
    pub item: ActionItem,
    pub incident_number: i64,
    pub incident_summary: String,
    pub severity: Severity,
    pub days_overdue: i64,
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    #[sqlx(flatten)]
    item: ItemRow,
    incident_number: i64,
    summary: String,
    severity: String,
}

/// Open action items due before today (UTC), across the incidents the actor can see, most overdue first.
/// Relies on `ix_action_item_open_due (due_date) where status = 'OPEN'`.
pub async fn overdue_action_items(pool: &PgPool, actor: &Actor, limit: u32) -> Result<Vec<OverdueActionItem>> {
    read(pool, Envelope::new(actor, Action::IncidentList), async |cx| overdue_in(cx.db(), actor, limit).await).await
}

async fn overdue_in(db: &mut PgConnection, actor: &Actor, limit: u32) -> Result<Vec<OverdueActionItem>> {
    let today = Utc::now().date_naive();
    let scope: Option<Vec<TenantId>> = match &actor.tenants {
        TenantScope::All => None,
        TenantScope::Only(ids) => Some(ids.iter().copied().collect()),
    };
    let rows = sqlx::query_as::<_, OverdueRow>(
        "select a.action_item_id, a.incident_id, a.action, a.owner, a.due_date, a.item_type, a.category, a.status,
                a.completed_at, a.version, i.incident_number, i.summary, i.severity
         from ops.action_item a join ops.operational_incident i on i.incident_id = a.incident_id
         where a.status = 'OPEN' and a.due_date < $1
           and ($2::uuid[] is null or exists (
                 select 1 from ops.incident_tenant t where t.incident_id = a.incident_id and t.tenant_id = any($2)))
         order by a.due_date, a.action_item_id
         limit $3",
    )
    .bind(today)
    .bind(scope)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            let item = r.item.into_item(today)?;
            Ok(OverdueActionItem {
                days_overdue: item.due_date.map(|d| (today - d).num_days()).unwrap_or(0),
                item,
                incident_number: r.incident_number,
                incident_summary: r.summary,
                severity: stored(&r.severity)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_item_needs_a_concrete_action_a_type_and_a_category() {
        let errors = ActionItemForSave::parse(&ActionItemForm {
            action: "be careful".into(),
            due_date: "soon".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(errors.get("due_date"), Some("Enter a date such as 2026-12-31"));
        assert!(errors.contains("item_type") && errors.contains("category"));
        assert!(!errors.contains("action"), "ten characters are enough for the table");
        let short =
            ActionItemForSave::parse(&ActionItemForm { action: "be better".into(), ..Default::default() }).unwrap_err();
        assert!(short.get("action").unwrap().starts_with("Say concretely"));
    }

    #[test]
    fn owner_and_due_date_may_wait_while_the_review_is_drafted() {
        let item = ActionItemForSave::parse(&ActionItemForm {
            action: "Add a CI check refusing destructive migrations on large tables".into(),
            item_type: "CONTROL".into(),
            category: "PREVENT".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((item.owner, item.due_date), (None, None));
    }
}
