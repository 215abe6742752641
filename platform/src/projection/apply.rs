//! The database side of one message: inbox row and projection change in ONE transaction.
//!
//! The inbox insert comes first and decides: a conflict means this consumer group already handled the
//! event (a redelivery after a crash between the database commit and the offset commit, or a copy on the
//! topic), so the message has no further effect. Otherwise the projection moves only forward: every
//! write is guarded by `aggregate_version < incoming`, so an older event delivered late changes nothing.

use sqlx::PgPool;

use crate::machine::Named;

use super::event::{Change, OrderEvent};

/// Where a message came from, recorded in the inbox.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub consumer_group: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// What one message did to the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The projection row was inserted or moved forward to this event's version.
    Projected,
    /// First delivery, recorded in the inbox, but the projection already holds this version or a newer
    /// one (or, for a line event, holds no row to bump): nothing changed.
    Stale,
    /// The inbox already held this event id for this group: a redelivery, skipped.
    Duplicate,
}

/// Records `event` in the inbox and applies it, in one transaction.
pub async fn apply(pool: &PgPool, source: Source<'_>, event: &OrderEvent) -> sqlx::Result<Applied> {
    let mut tx = pool.begin().await?;
    let first_delivery = sqlx::query(
        "insert into messaging.inbox_message (consumer_group, message_id, topic, kafka_partition, kafka_offset)
         values ($1, $2, $3, $4, $5)
         on conflict (consumer_group, message_id) do nothing",
    )
    .bind(source.consumer_group)
    .bind(event.event_id)
    .bind(source.topic)
    .bind(source.partition)
    .bind(source.offset)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first_delivery {
        // Nothing was written; ending the transaction either way is the same.
        tx.rollback().await?;
        return Ok(Applied::Duplicate);
    }

    let changed = match &event.change {
        Change::Snapshot { order_number, status, total_minor, currency } => {
            // The tenant check keeps an event that names another tenant's order from overwriting it.
            sqlx::query(
                "insert into oms.order_projection
                   (order_id, tenant_id, order_number, status, aggregate_version, total_minor, currency,
                    last_event_id, source_updated_at, projected_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
                 on conflict (order_id) do update
                 set order_number = excluded.order_number, status = excluded.status,
                     aggregate_version = excluded.aggregate_version, total_minor = excluded.total_minor,
                     currency = excluded.currency, last_event_id = excluded.last_event_id,
                     source_updated_at = excluded.source_updated_at, projected_at = now()
                 where oms.order_projection.aggregate_version < excluded.aggregate_version
                   and oms.order_projection.tenant_id = excluded.tenant_id",
            )
            .bind(event.order_id)
            .bind(event.tenant_id)
            .bind(order_number)
            .bind(status.name())
            .bind(event.version)
            .bind(total_minor)
            .bind(currency)
            .bind(event.event_id)
            .bind(event.occurred_at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        }
        // A line event is part of the order aggregate: it moves the version (so an older status event
        // delivered after it is recognised as old) but keeps the status, which it does not carry. With
        // no row yet there is nothing to bump; the next status event brings the whole row.
        Change::LineChanged => sqlx::query(
            "update oms.order_projection
             set aggregate_version = $3, last_event_id = $4, source_updated_at = $5, projected_at = now()
             where order_id = $1 and tenant_id = $2 and aggregate_version < $3",
        )
        .bind(event.order_id)
        .bind(event.tenant_id)
        .bind(event.version)
        .bind(event.event_id)
        .bind(event.occurred_at)
        .execute(&mut *tx)
        .await?
        .rows_affected(),
    };
    tx.commit().await?;
    Ok(if changed == 1 { Applied::Projected } else { Applied::Stale })
}

/// True when a database error is about this message's data (SQLSTATE class 22 data exception or 23
/// integrity violation), so retrying cannot help and the message is dead-lettered; anything else
/// (connection lost, timeout, serialization) is retried.
pub fn is_data_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
        _ => false,
    }
}
