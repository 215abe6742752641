//! One engine, several databases. Operaton may serve several opsdeck databases at once (environments,
//! cells, every test's own database); business keys say which order an instance runs, not where that
//! order lives. So every order-orchestration instance carries the process variable [`DATABASE_VARIABLE`]
//! naming its database (`platform.database_identity`), set when it is started, and a database's worker
//! fetches only the tasks whose instance names that database (fetchAndLock's `processVariables` filter):
//! it never locks, fails or completes another database's order.
//!
//! Instances started before they carried the variable match no worker's filter. The worker adopts them
//! ([`adopt_unmarked`], when it starts and every few minutes after): an instance naming no database
//! whose order lives in this database gets this database's name, and its tasks are fetched from then on.
//! An order lives in one database only, so no two databases adopt the same instance; instances of
//! orders no database holds stay as they are, for the order↔engine reconciliation to report.

use std::collections::HashSet;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::Result;
use crate::engine::{BusinessKey, EngineClient, ORDER_ORCHESTRATION_KEY};

/// The process variable naming the database whose order an instance runs.
pub const DATABASE_VARIABLE: &str = "opsdeckDb";

/// Instances looked at per engine request while adopting.
const PAGE: u32 = 200;

/// This database's id (`platform.database_identity`), as instances carry it.
pub async fn database_id(conn: &mut PgConnection) -> crate::Result<String> {
    let id: Uuid = sqlx::query_scalar("select database_id from platform.database_identity").fetch_one(&mut *conn).await?;
    Ok(id.to_string())
}

/// Names this database on the running order-orchestration instances that name none and whose order
/// lives here; returns how many it adopted. Setting the variable twice is harmless (same value), so two
/// workers of one database sweeping together do no damage.
#[tracing::instrument(skip_all, err(Display))]
pub async fn adopt_unmarked(pool: &PgPool, engine: &EngineClient) -> Result<u64> {
    let database = database_id(&mut *pool.acquire().await?).await?;
    let (mut adopted, mut first) = (0, 0);
    loop {
        let page = engine.instances_page(ORDER_ORCHESTRATION_KEY, first, PAGE).await?;
        let orders: Vec<(&str, Uuid)> = page
            .iter()
            .filter_map(|i| Some((i.id.as_str(), BusinessKey::parse(i.business_key.as_deref()?)?.1.as_uuid())))
            .collect();
        let order_ids: Vec<Uuid> = orders.iter().map(|(_, order)| *order).collect();
        // The primary key of oms.sales_order.
        let ours: HashSet<Uuid> = sqlx::query_scalar("select order_id from oms.sales_order where order_id = any($1)")
            .bind(&order_ids)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
        let candidates: Vec<&str> = orders.iter().filter(|(_, order)| ours.contains(order)).map(|(id, _)| *id).collect();
        if !candidates.is_empty() {
            let marked = engine.instances_with_variable(DATABASE_VARIABLE, &candidates).await?;
            for id in candidates.into_iter().filter(|id| !marked.contains(*id)) {
                engine.set_instance_variable(id, DATABASE_VARIABLE, &database).await?;
                tracing::info!(process_instance_id = id, %database, "instance without a database adopted");
                adopted += 1;
            }
        }
        if page.len() < PAGE as usize {
            return Ok(adopted);
        }
        first += PAGE;
    }
}
