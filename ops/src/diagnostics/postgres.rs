//! PostgreSQL (lesson §14): who blocks whom, with both queries and how long each has waited (§14.1, with
//! `pg_blocking_pids()`), transactions open too long, and the console's own connection pool. Where the
//! advice is to end a session, the §14.3 safety rule stands beside it: the console gives the advice and
//! never a button.
//!
//! Only sessions of the console's database are listed. Queries of sessions owned by other roles read
//! `<insufficient privilege>` unless the console's role has `pg_read_all_stats`.

use std::time::Duration;

use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::panel::{Status, Verdict};

pub const RUNBOOK: &str = "postgres-locks.md";

/// Lesson §14.3, shown beside every piece of advice to terminate a session.
pub const SAFETY_RULE: [&str; 4] = [
    "Which tenant/entity is affected?",
    "Is the transaction holding uncommitted business state?",
    "Is it a migration session?",
    "Is application retry behaviour going to stampede after termination?",
];

/// One session waiting for a lock, and one session it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Blocking {
    pub blocked_pid: i32,
    pub blocked_application: Option<String>,
    pub blocked_query: Option<String>,
    pub blocked_seconds: Option<f64>,
    pub blocked_wait: Option<String>,
    pub blocking_pid: i32,
    pub blocking_application: Option<String>,
    pub blocking_state: Option<String>,
    pub blocking_query: Option<String>,
    pub blocking_seconds: Option<f64>,
    /// How long the blocking session's transaction has been open.
    pub blocking_transaction_seconds: Option<f64>,
}

impl Blocking {
    /// The blocker is idle inside its transaction: nothing it runs will finish it.
    pub fn blocker_idle_in_transaction(&self) -> bool {
        self.blocking_state.as_deref().is_some_and(|s| s.starts_with("idle in transaction"))
    }
}

/// A transaction open longer than the threshold.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct LongTransaction {
    pub pid: i32,
    pub user_name: Option<String>,
    pub application: Option<String>,
    pub state: Option<String>,
    pub transaction_seconds: f64,
    pub state_seconds: Option<f64>,
    pub query: Option<String>,
}

impl LongTransaction {
    /// A DDL statement or the migration table: §14.3's "is it a migration session?".
    pub fn looks_like_migration(&self) -> bool {
        let query = self.query.as_deref().unwrap_or_default().trim_start().to_ascii_lowercase();
        ["alter ", "create ", "drop ", "reindex ", "vacuum full"].iter().any(|p| query.starts_with(p))
            || query.contains("_sqlx_migrations")
    }
}

/// The console's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolUse {
    /// Open connections (idle or in use).
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUse {
    pub fn of(pool: &PgPool) -> PoolUse {
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        PoolUse { open: pool.size(), idle, max: pool.options().get_max_connections() }
    }

    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostgresSessions {
    pub blocking: Vec<Blocking>,
    pub long_transactions: Vec<LongTransaction>,
    pub pool: PoolUse,
    /// Sessions on the console's database, and the server's limit.
    pub connections: i64,
    pub max_connections: i64,
}

impl PostgresSessions {
    /// Distinct sessions waiting for a lock.
    pub fn blocked_sessions(&self) -> usize {
        let mut pids: Vec<i32> = self.blocking.iter().map(|b| b.blocked_pid).collect();
        pids.sort_unstable();
        pids.dedup();
        pids.len()
    }

    pub fn verdict(&self, lock_wait: Duration) -> Verdict {
        let long_wait = self.blocking.iter().find(|b| b.blocked_seconds.is_some_and(|s| s > lock_wait.as_secs_f64()));
        if let Some(wait) = long_wait.or(self.blocking.first()) {
            let status = if long_wait.is_some() { Status::Err } else { Status::Warn };
            let next = if wait.blocker_idle_in_transaction() {
                format!(
                    "Session {} is idle in a transaction and blocks {} session(s): find its owner; terminating it \
                     (pg_terminate_backend) is for after the safety rule's checks.",
                    wait.blocking_pid,
                    self.blocked_sessions()
                )
            } else {
                format!(
                    "Session {} holds the lock: let it finish, or find why it is slow (plan, hot row, migration).",
                    wait.blocking_pid
                )
            };
            return Verdict::new(
                status,
                format!(
                    "{} session(s) waiting for a lock; the longest for {:.0} s, behind session {}",
                    self.blocked_sessions(),
                    wait.blocked_seconds.unwrap_or_default(),
                    wait.blocking_pid
                ),
                next,
                RUNBOOK,
            );
        }
        if let Some(long) = self.long_transactions.first() {
            return Verdict::new(
                Status::Warn,
                format!(
                    "{} transaction(s) open too long; the oldest (session {}, {}) for {:.0} s",
                    self.long_transactions.len(),
                    long.pid,
                    long.state.as_deref().unwrap_or("?"),
                    long.transaction_seconds
                ),
                "Find the owner; long transactions hold back vacuum and may block writes.",
                RUNBOOK,
            );
        }
        if self.pool.max > 0 && self.pool.in_use() >= self.pool.max {
            return Verdict::new(
                Status::Warn,
                format!("The console's pool is exhausted ({} of {} in use)", self.pool.in_use(), self.pool.max),
                "Look for slow queries holding connections.",
                RUNBOOK,
            );
        }
        Verdict::ok("No lock waits, no long transaction.", RUNBOOK)
    }
}

/// Reads the sessions of the console's database.
pub async fn sessions(db: &mut PgConnection, pool: &PgPool, long_transaction: Duration) -> sqlx::Result<PostgresSessions> {
    let blocking: Vec<Blocking> = sqlx::query_as(
        "select blocked.pid as blocked_pid, blocked.application_name as blocked_application,
                blocked.query as blocked_query,
                extract(epoch from clock_timestamp() - blocked.query_start)::float8 as blocked_seconds,
                concat_ws(':', blocked.wait_event_type, blocked.wait_event) as blocked_wait,
                blocking.pid as blocking_pid, blocking.application_name as blocking_application,
                blocking.state as blocking_state, blocking.query as blocking_query,
                extract(epoch from clock_timestamp() - blocking.query_start)::float8 as blocking_seconds,
                extract(epoch from clock_timestamp() - blocking.xact_start)::float8 as blocking_transaction_seconds
         from pg_catalog.pg_stat_activity blocked
         cross join lateral unnest(pg_catalog.pg_blocking_pids(blocked.pid)) as b(pid)
         join pg_catalog.pg_stat_activity blocking on blocking.pid = b.pid
         where blocked.datname = current_database()
         order by blocked.query_start, blocked.pid, blocking.pid
         limit 100",
    )
    .fetch_all(&mut *db)
    .await?;
    let long_transactions: Vec<LongTransaction> = sqlx::query_as(
        "select pid, usename::text as user_name, application_name as application, state,
                extract(epoch from clock_timestamp() - xact_start)::float8 as transaction_seconds,
                extract(epoch from clock_timestamp() - state_change)::float8 as state_seconds, query
         from pg_catalog.pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and xact_start < clock_timestamp() - make_interval(secs => $1)
         order by xact_start
         limit 50",
    )
    .bind(long_transaction.as_secs_f64())
    .fetch_all(&mut *db)
    .await?;
    let (connections, max_connections): (i64, i64) = sqlx::query_as(
        "select (select count(*) from pg_catalog.pg_stat_activity where datname = current_database()),
                current_setting('max_connections')::bigint",
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(PostgresSessions { blocking, long_transactions, pool: PoolUse::of(pool), connections, max_connections })
}
