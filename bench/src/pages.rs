//! Each console page's own data calls — the `ops` reads its component awaits before it renders, for
//! the same signed-in operator — run alone, one after the other. Beside the page's own latency at one
//! user this is its render overhead (bench/README.md says what else the page pays: the session lookup).

use std::collections::BTreeMap;

use ops::dashboard::{self, Board};
use ops::identity::Actor;
use ops::incident::{self, IncidentListForm, IncidentListQuery};
use ops::reconcile::{self, MismatchFilter, MismatchFilterForm};
use ops::testing::demo_user;
use platform::engine::EngineClient;
use platform::ids::{OrderId, TenantId};
use platform::machine::Named;
use platform::query::OrderLookup;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::stats::Samples;
use crate::Result;

/// The pages measured, by the path run.sh loads them at (Order 360 is named `order-360`).
pub const PAGES: [&str; 6] = ["incidents", "reconciliation", "order-360", "executive", "service-owner", "incident"];

pub async fn data_calls(pool: &PgPool, engine: &EngineClient, order: &str, iterations: usize) -> Result<Value> {
    let (tenant, order) = order.split_once('/').ok_or("--order is <tenant id>/<order id>")?;
    let (tenant, order) = (TenantId::parse(tenant)?, OrderId::parse(order)?);
    let actor = demo_user("oscar.operator");
    let mut out = BTreeMap::new();
    for page in PAGES {
        let mut samples = Samples::default();
        // One call first, untimed: the cache is warm for the pages under load too.
        load(pool, engine, &actor, page, tenant, order).await?;
        for _ in 0..iterations {
            samples.time(load(pool, engine, &actor, page, tenant, order)).await?;
        }
        eprintln!("page data {page:<15} {}", samples.summary());
        out.insert(page, samples.summary());
    }
    Ok(json!(out))
}

async fn load(pool: &PgPool, engine: &EngineClient, actor: &Actor, page: &str, tenant: TenantId, order: OrderId) -> Result<()> {
    ops::tenants::visible(pool, actor).await?;
    match page {
        "incidents" => {
            let query = IncidentListQuery::parse(&IncidentListForm::default()).map_err(|e| format!("{e:?}"))?;
            incident::list_incidents(pool, actor, &query).await?;
            incident::overdue_action_items(pool, actor, 50).await?;
        }
        "reconciliation" => {
            reconcile::runs(pool, actor, None, 20, false).await?;
            let filter = MismatchFilter::parse(&MismatchFilterForm::default()).map_err(|e| format!("{e:?}"))?;
            reconcile::mismatches(pool, actor, &filter, 50).await?;
            reconcile::auto_repairs(pool, actor).await?;
        }
        "order-360" => {
            ops::order360::order_360(pool, engine, actor, tenant, &OrderLookup::Id(order)).await?.ok_or("no such order")?;
        }
        board => {
            let board = Board::parse_name(board).ok_or("no such board")?;
            dashboard::board(pool, &dashboard::FigureCache::off(), actor, board, None, 6).await?;
        }
    }
    Ok(())
}
