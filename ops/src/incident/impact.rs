//! Impact dimensions (lesson §4.2): revenue, customer, data integrity, legal/compliance, operational,
//! blast radius and recoverability. People write the assessment; where data can answer, the console
//! proposes figures — number and value of the affected orders and quotes (summed per currency, in minor
//! units) and number of affected tenants, taken from the incident's entities and tenants — and a blast
//! radius that follows from them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::command::{bump_version, check_version, lock_incident, refuse_if_closed, visible_incident, AUDIT_ENTITY};
use super::model::{stored, BlastRadius, EventKind, Recoverability};
use super::timeline::{self, event_type, NewEvent};
use crate::command::{read, run, Action, Cx, Envelope};
use crate::error::Result;
use crate::form::parse::{self as form, MAX_TEXT};
use crate::form::FieldErrors;
use crate::identity::Actor;
use crate::ids::IncidentId;

crate::form! {
    /// The impact form as sent.
    pub struct ImpactForm / ImpactFields {
        version: String,
        revenue: String,
        customer: String,
        data_integrity: String,
        legal: String,
        operational: String,
        blast_radius: String,
        recoverability: String,
    }
}

/// The assessment: a text per dimension, and the two closed choices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    pub revenue: Option<String>,
    pub customer: Option<String>,
    pub data_integrity: Option<String>,
    pub legal: Option<String>,
    pub operational: Option<String>,
    pub blast_radius: Option<BlastRadius>,
    pub recoverability: Option<Recoverability>,
}

/// An assessment that passed every field check.
pub type ImpactForSave = Impact;

impl Impact {
    pub fn parse(form: &ImpactForm) -> std::result::Result<Impact, FieldErrors> {
        let f = ImpactForm::FIELDS;
        let mut e = FieldErrors::new();
        let impact = Impact {
            revenue: form::optional_text(&mut e, f.revenue, &form.revenue, MAX_TEXT),
            customer: form::optional_text(&mut e, f.customer, &form.customer, MAX_TEXT),
            data_integrity: form::optional_text(&mut e, f.data_integrity, &form.data_integrity, MAX_TEXT),
            legal: form::optional_text(&mut e, f.legal, &form.legal, MAX_TEXT),
            operational: form::optional_text(&mut e, f.operational, &form.operational, MAX_TEXT),
            blast_radius: form::optional_choice(&mut e, f.blast_radius, &form.blast_radius, "a blast radius"),
            recoverability: form::optional_choice(
                &mut e,
                "recoverability",
                &form.recoverability,
                "how it can be recovered",
            ),
        };
        e.finish(|| impact)
    }

    /// The form pre-filled with this assessment.
    pub fn to_form(&self) -> ImpactForm {
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        ImpactForm {
            version: String::new(),
            revenue: text(&self.revenue),
            customer: text(&self.customer),
            data_integrity: text(&self.data_integrity),
            legal: text(&self.legal),
            operational: text(&self.operational),
            blast_radius: self.blast_radius.map(|b| b.as_str().to_string()).unwrap_or_default(),
            recoverability: self.recoverability.map(|r| r.as_str().to_string()).unwrap_or_default(),
        }
    }

    fn changed_fields(&self, other: &Impact) -> Vec<&'static str> {
        [
            ("revenue", self.revenue != other.revenue),
            ("customer", self.customer != other.customer),
            ("data_integrity", self.data_integrity != other.data_integrity),
            ("legal", self.legal != other.legal),
            ("operational", self.operational != other.operational),
            ("blast_radius", self.blast_radius != other.blast_radius),
            ("recoverability", self.recoverability != other.recoverability),
        ]
        .into_iter()
        .filter(|(_, c)| *c)
        .map(|(f, _)| f)
        .collect()
    }
}

#[derive(sqlx::FromRow)]
struct ImpactRow {
    impact_revenue: Option<String>,
    impact_customer: Option<String>,
    impact_data_integrity: Option<String>,
    impact_legal: Option<String>,
    impact_operational: Option<String>,
    blast_radius: Option<String>,
    recoverability: Option<String>,
}

pub(crate) async fn load_impact(db: &mut PgConnection, incident_id: IncidentId) -> Result<Impact> {
    let row = sqlx::query_as::<_, ImpactRow>(
        "select impact_revenue, impact_customer, impact_data_integrity, impact_legal, impact_operational, blast_radius,
                recoverability
         from ops.operational_incident where incident_id = $1",
    )
    .bind(incident_id)
    .fetch_one(db)
    .await?;
    Ok(Impact {
        revenue: row.impact_revenue,
        customer: row.impact_customer,
        data_integrity: row.impact_data_integrity,
        legal: row.impact_legal,
        operational: row.impact_operational,
        blast_radius: row.blast_radius.as_deref().map(stored).transpose()?,
        recoverability: row.recoverability.as_deref().map(stored).transpose()?,
    })
}

/// What saving the assessment did. `changed` empty: nothing differed, nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactSaved {
    pub version: i64,
    pub changed: Vec<&'static str>,
}

/// Saves the impact assessment (until CLOSED).
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject), err(Display))]
pub async fn save_impact(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    input: &ImpactForSave,
) -> Result<ImpactSaved> {
    let envelope = Envelope::new(actor, Action::IncidentImpact).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| save_impact_in(cx, incident_id, expected_version, input).await).await
}

async fn save_impact_in(
    cx: &mut Cx<'_>,
    incident_id: IncidentId,
    expected_version: i64,
    input: &Impact,
) -> Result<ImpactSaved> {
    let locked = lock_incident(cx, incident_id).await?;
    check_version("incident", incident_id, expected_version, locked.version)?;
    refuse_if_closed(&locked, "assessing the impact")?;
    let who = cx.actor_display();
    let tx = cx.db();
    let before = load_impact(tx, incident_id).await?;
    let changed = before.changed_fields(input);
    if changed.is_empty() {
        return Ok(ImpactSaved { version: locked.version, changed });
    }
    let now = chrono::Utc::now();
    let version = bump_version(tx, &locked, now).await?;
    sqlx::query(
        "update ops.operational_incident set impact_revenue = $2, impact_customer = $3, impact_data_integrity = $4,
           impact_legal = $5, impact_operational = $6, blast_radius = $7, recoverability = $8
         where incident_id = $1",
    )
    .bind(incident_id)
    .bind(&input.revenue)
    .bind(&input.customer)
    .bind(&input.data_integrity)
    .bind(&input.legal)
    .bind(&input.operational)
    .bind(input.blast_radius.map(|b| b.as_str()))
    .bind(input.recoverability.map(|r| r.as_str()))
    .execute(&mut *tx)
    .await?;
    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::IMPACT_ASSESSED,
            actor: &who,
            headline: format!("Impact assessed: {} changed", changed.join(", ")),
            body: json!({ "version": version, "changed": changed, "before": before, "impact": input }),
            entities: &[],
        },
    )
    .await?;
    cx.record(json!({ "version": version, "changed": changed }));
    Ok(ImpactSaved { version, changed })
}

/// An amount of money in minor units of a currency (cents for EUR and USD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    pub currency: String,
    pub minor: i64,
}

impl fmt::Display for Money {
    /// `EUR 1,234.56`. Two decimals: the platform's currencies all have two (a zero-decimal currency
    /// would need ISO 4217's exponent here).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let units = (abs / 100).to_string();
        let groups: Vec<&str> =
            units.as_bytes().rchunks(3).rev().map(|g| std::str::from_utf8(g).expect("ascii digits")).collect();
        let grouped = groups.join(",");
        write!(f, "{} {sign}{grouped}.{:02}", self.currency, abs % 100)
    }
}

/// Count and value (per currency) of one kind of affected entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub count: i64,
    pub value: Vec<Money>,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.count)?;
        if !self.value.is_empty() {
            let values: Vec<String> = self.value.iter().map(Money::to_string).collect();
            write!(f, " worth {}", values.join(" + "))?;
        }
        Ok(())
    }
}

/// Figures the console proposes for the assessment, computed from the incident's entities and tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactProposal {
    pub orders: Figures,
    pub quotes: Figures,
    pub tenants: i64,
    /// What the figures say about the reach: one order, one tenant, several tenants; `None` when the
    /// incident names no tenant (platform-wide: a person must judge).
    pub blast_radius: Option<BlastRadius>,
    /// A sentence for the revenue dimension ("3 orders worth EUR 1,234.56; 1 quote worth …").
    pub revenue_text: String,
    /// A sentence for the customer dimension ("2 tenants affected").
    pub customer_text: String,
}

/// Proposes impact figures for an incident the actor can see, from all its entities and tenants (a
/// visible incident is shown whole; see `list`).
pub async fn propose_impact(pool: &PgPool, actor: &Actor, incident_id: IncidentId) -> Result<ImpactProposal> {
    let envelope = Envelope::new(actor, Action::IncidentRead).entity(AUDIT_ENTITY, incident_id);
    read(pool, envelope, async |cx| {
        let tenants = visible_incident(cx, incident_id).await?;
        proposal_for(cx.db(), incident_id, tenants.len()).await
    })
    .await
}

pub(crate) async fn proposal_for(
    db: &mut PgConnection,
    incident_id: IncidentId,
    tenants: usize,
) -> Result<ImpactProposal> {
    let orders = figures(
        &mut *db,
        "select o.currency::text, count(*), sum(o.total_minor)::bigint from ops.incident_entity e
           join oms.sales_order o on o.order_id = e.entity_id
         where e.incident_id = $1 and e.entity_type = 'ORDER'
         group by o.currency order by o.currency",
        incident_id,
    )
    .await?;
    let quotes = figures(
        &mut *db,
        "select q.currency::text, count(*), sum(q.total_minor)::bigint from ops.incident_entity e
           join cpq.quote q on q.quote_id = e.entity_id
         where e.incident_id = $1 and e.entity_type = 'QUOTE'
         group by q.currency order by q.currency",
        incident_id,
    )
    .await?;
    Ok(proposal(orders, quotes, tenants as i64))
}

async fn figures(db: &mut PgConnection, sql: &str, incident_id: IncidentId) -> Result<Figures> {
    let rows = sqlx::query_as::<_, (String, i64, i64)>(sql).bind(incident_id).fetch_all(db).await?;
    Ok(Figures {
        count: rows.iter().map(|r| r.1).sum(),
        value: rows.into_iter().map(|(currency, _, minor)| Money { currency, minor }).collect(),
    })
}

/// The proposal from the figures (pure, so its wording is tested without a database).
pub fn proposal(orders: Figures, quotes: Figures, tenants: i64) -> ImpactProposal {
    let blast_radius = match (tenants, orders.count + quotes.count) {
        (0, _) => None,
        (1, 1) if orders.count == 1 => Some(BlastRadius::SingleOrder),
        (1, _) => Some(BlastRadius::SingleTenant),
        _ => Some(BlastRadius::MultiTenant),
    };
    let revenue_text = describe(&orders, "order", "orders", &quotes, "quote", "quotes");
    let customer_text = format!("{tenants} {} affected", if tenants == 1 { "tenant" } else { "tenants" });
    ImpactProposal { orders, quotes, tenants, blast_radius, revenue_text, customer_text }
}

fn describe(a: &Figures, a_one: &str, a_many: &str, b: &Figures, b_one: &str, b_many: &str) -> String {
    let part = |f: &Figures, one: &str, many: &str| {
        let noun = if f.count == 1 { one } else { many };
        let values: Vec<String> = f.value.iter().map(Money::to_string).collect();
        if values.is_empty() {
            format!("{} {noun}", f.count)
        } else {
            format!("{} {noun} worth {}", f.count, values.join(" + "))
        }
    };
    let parts: Vec<String> = [(a, a_one, a_many), (b, b_one, b_many)]
        .into_iter()
        .filter(|(f, _, _)| f.count > 0)
        .map(|(f, one, many)| part(f, one, many))
        .collect();
    if parts.is_empty() {
        "no orders or quotes named on the incident yet".to_string()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money { currency: "EUR".into(), minor }
    }

    #[test]
    fn money_is_shown_with_grouping_and_two_decimals() {
        assert_eq!(eur(123_456_789).to_string(), "EUR 1,234,567.89");
        assert_eq!(eur(5).to_string(), "EUR 0.05");
        assert_eq!(eur(100_000).to_string(), "EUR 1,000.00");
    }

    #[test]
    fn the_proposal_sums_per_currency_and_names_the_reach() {
        let orders = Figures { count: 3, value: vec![eur(27_499), Money { currency: "USD".into(), minor: 1_000 }] };
        let quotes = Figures { count: 1, value: vec![eur(5_000)] };
        let p = proposal(orders, quotes, 2);
        assert_eq!(p.revenue_text, "3 orders worth EUR 274.99 + USD 10.00; 1 quote worth EUR 50.00");
        assert_eq!(p.customer_text, "2 tenants affected");
        assert_eq!(p.blast_radius, Some(BlastRadius::MultiTenant));

        let one = proposal(Figures { count: 1, value: vec![eur(1)] }, Figures::default(), 1);
        assert_eq!(one.blast_radius, Some(BlastRadius::SingleOrder));
        assert_eq!(
            proposal(Figures::default(), Figures::default(), 0).revenue_text,
            "no orders or quotes named on the incident yet"
        );
        assert_eq!(proposal(Figures::default(), Figures::default(), 0).blast_radius, None);
    }
}
