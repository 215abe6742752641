//! Quote events: one per quote transition, on the quote topic.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{QuoteId, TenantId};
use crate::quote::{QuoteCommand, QuoteStatus};

/// A quote moved to `status` by `command`. The quote's creation (and first pricing) is a `PRICE` with no
/// `from_status`, as `command::create_quote` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteStatusChanged {
    pub quote_id: QuoteId,
    pub tenant_id: TenantId,
    /// `Q-…`, as stored on the quote.
    pub quote_number: String,
    pub command: QuoteCommand,
    pub from_status: Option<QuoteStatus>,
    pub status: QuoteStatus,
    /// The commercial version (moves on revision), not the row version.
    pub quote_version: i32,
    /// The quote row's version after this change: the aggregate version.
    pub version: i64,
    pub total_minor: i64,
    pub occurred_at: DateTime<Utc>,
}

impl QuoteStatusChanged {
    pub const TYPE: &'static str = "QuoteStatusChanged";
}
