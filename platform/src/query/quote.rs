//! The quote behind an order, for Order 360: the quote, its transitions, its approval requests with
//! theirs, and every order made from it (more than one is a duplicate, lesson §9).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::ids::{ApprovalRequestId, OrderId, QuoteId, TenantId};
use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct QuoteRow {
    pub quote_id: QuoteId,
    pub quote_number: String,
    pub status: String,
    pub current_version: i32,
    pub version: i64,
    pub currency: String,
    pub total_minor: i64,
    pub accepted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// One step of a quote's or an approval's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StepRow {
    pub from_status: Option<String>,
    pub to_status: String,
    pub command: String,
    pub actor: String,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ApprovalRow {
    pub approval_request_id: ApprovalRequestId,
    pub quote_version: i32,
    pub status: String,
    pub assignee: Option<String>,
    pub escalation_level: i32,
    pub due_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    #[sqlx(skip)]
    pub transitions: Vec<StepRow>,
}

/// An order made from the quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SiblingOrder {
    pub order_id: OrderId,
    pub order_number: String,
    pub status: String,
    pub origin: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteStory {
    pub quote: QuoteRow,
    pub transitions: Vec<StepRow>,
    pub approvals: Vec<ApprovalRow>,
    /// Every order of the quote, oldest first.
    pub orders: Vec<SiblingOrder>,
}

/// The quote `quote_id` of `tenant_id` with its history; `None` when there is no such quote.
pub async fn quote_story(db: &mut PgConnection, tenant_id: TenantId, quote_id: QuoteId) -> Result<Option<QuoteStory>> {
    let Some(quote) = sqlx::query_as::<_, QuoteRow>(
        "select quote_id, quote_number, status, current_version, version, currency::text as currency, total_minor,
                accepted_at, updated_at
         from cpq.quote where tenant_id = $1 and quote_id = $2",
    )
    .bind(tenant_id)
    .bind(quote_id)
    .fetch_optional(&mut *db)
    .await?
    else {
        return Ok(None);
    };
    let transitions = sqlx::query_as::<_, StepRow>(
        "select from_status, to_status, command, actor, reason, occurred_at from cpq.quote_transition
         where quote_id = $1 and tenant_id = $2 order by occurred_at, transition_id",
    )
    .bind(quote_id)
    .bind(tenant_id)
    .fetch_all(&mut *db)
    .await?;
    let mut approvals = sqlx::query_as::<_, ApprovalRow>(
        "select approval_request_id, quote_version, status, assignee, escalation_level, due_at, decided_at, decided_by
         from cpq.approval_request where quote_id = $1 and tenant_id = $2 order by created_at",
    )
    .bind(quote_id)
    .bind(tenant_id)
    .fetch_all(&mut *db)
    .await?;
    for approval in &mut approvals {
        approval.transitions = sqlx::query_as::<_, StepRow>(
            "select from_status, to_status, command, actor, reason, occurred_at from cpq.approval_transition
             where approval_request_id = $1 order by occurred_at, transition_id",
        )
        .bind(approval.approval_request_id)
        .fetch_all(&mut *db)
        .await?;
    }
    let orders = sqlx::query_as::<_, SiblingOrder>(
        "select order_id, order_number, status, origin, created_at from oms.sales_order
         where tenant_id = $1 and source_quote_id = $2 order by created_at, order_id",
    )
    .bind(tenant_id)
    .bind(quote_id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Some(QuoteStory { quote, transitions, approvals, orders }))
}
