//! The order projection: the read model's row as the projection consumer left it.

use rand::Rng;
use uuid::Uuid;

use super::{t, Batch, Generator, SECOND};
use crate::machine::Named;
use crate::order::OrderStatus;

impl Generator {
    /// Writes the order's projection row: every version applied, or `lag` versions short. `versions`
    /// holds the outbox event id, time and order status of each order version, oldest first. Returns the
    /// version shown.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn project(
        &mut self,
        b: &mut Batch,
        tenant_id: Uuid,
        order_id: Uuid,
        number: &str,
        total: i64,
        currency: &str,
        versions: &[(Uuid, i64, OrderStatus)],
        lag: i64,
    ) -> i64 {
        let shown = (versions.len() as i64 - lag).max(1);
        let (event_id, source_at, status) = versions[shown as usize - 1];
        // After the event was published (at most 1.5 s after it was written).
        let projected_at = (source_at + self.rng.random_range(1_600..4 * SECOND)).min(self.cfg.now_ms - 1);
        b.tables[t::PROJECTION]
            .row()
            .uuid(order_id)
            .uuid(tenant_id)
            .text(number)
            .text(status.name())
            .i64(shown)
            .i64(total)
            .text(currency)
            .uuid(event_id)
            .ts(source_at)
            .ts(projected_at);
        shown
    }
}
