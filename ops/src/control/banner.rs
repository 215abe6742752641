//! The switches that are on, shared by every page's banner for [`FRESH`].
//!
//! Every console page shows which switches are on ([`super::switches`] with `only_on`), which cost each
//! page a transaction of its own, a quarter of Order 360's statements. Pages of one database within
//! [`FRESH`] of a read share it, narrowed to what each person may see.
//!
//! Staleness is bounded by [`FRESH`]. A command that changes anything empties this replica's copy when it
//! commits ([`forget_all`]), so the page an operator is sent to after flipping a switch reads it afresh;
//! a read that began before a command committed is not kept (it may predate the change). Another
//! replica's change, or the platform's own CLI, is seen within [`FRESH`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::SwitchView;

/// How long one read of the switches serves the banners.
pub const FRESH: Duration = Duration::from_secs(1);

/// The database a pool reads (host, port and name): each has its own switches (tests run many at once).
pub fn database_of(pool: &PgPool) -> String {
    let options = pool.connect_options();
    format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or_default())
}

/// The last read of the switches that are on, by database.
#[derive(Default)]
pub struct SwitchesOn {
    reads: Mutex<HashMap<String, (Instant, Vec<SwitchView>)>>,
    /// Commands committed so far ([`SwitchesOn::forget`]): a read begun before one is not kept.
    changes: AtomicU64,
}

/// This replica's reads.
pub static SWITCHES_ON: LazyLock<SwitchesOn> = LazyLock::new(SwitchesOn::default);

impl SwitchesOn {
    /// The count of committed commands to hand to [`SwitchesOn::keep`], taken before reading.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Every tenant's switches that are on in `database`, if read within [`FRESH`].
    pub fn fresh(&self, database: &str) -> Option<Vec<SwitchView>> {
        let reads = self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        reads.get(database).filter(|(at, _)| at.elapsed() < FRESH).map(|(_, on)| on.clone())
    }

    /// Keeps a read of every tenant's switches that are on, unless a command committed since `changes`
    /// was taken (the read may predate it).
    pub fn keep(&self, database: &str, changes: u64, on: &[SwitchView]) {
        let mut reads = self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.changes.load(Ordering::SeqCst) != changes {
            return;
        }
        reads.retain(|_, (at, _)| at.elapsed() < FRESH);
        reads.insert(database.to_string(), (Instant::now(), on.to_vec()));
    }

    /// Forgets every read, and that any read in flight began before now.
    pub fn forget(&self) {
        // Counted under the lock, so a read cannot check the count, then be kept after this clears.
        let mut reads = self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.changes.fetch_add(1, Ordering::SeqCst);
        reads.clear();
    }
}

/// Forgets this replica's reads (a command committed).
pub fn forget_all() {
    SWITCHES_ON.forget();
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::control::Switch;

    fn relay_on() -> SwitchView {
        SwitchView {
            switch: Switch::Relay,
            control_key: "relay".into(),
            tenant_id: None,
            target: None,
            on: true,
            reason: "kafka is down".into(),
            changed_by: "oscar.operator".into(),
            changed_at: Utc::now(),
            incident_id: None,
            pause: None,
        }
    }

    #[test]
    fn a_read_serves_its_database_while_fresh_and_a_command_empties_it() {
        let on = SwitchesOn::default();
        on.keep("db-a", on.changes(), &[relay_on()]);
        assert_eq!(on.fresh("db-a").map(|v| v.len()), Some(1));
        assert!(on.fresh("db-b").is_none(), "another database reads its own");
        std::thread::sleep(FRESH + Duration::from_millis(20));
        assert!(on.fresh("db-a").is_none(), "past FRESH it is read again");

        on.keep("db-a", on.changes(), &[]);
        assert_eq!(on.fresh("db-a").map(|v| v.len()), Some(0));
        on.forget();
        assert!(on.fresh("db-a").is_none());
    }

    #[test]
    fn a_read_begun_before_a_command_committed_is_not_kept() {
        let on = SwitchesOn::default();
        let before = on.changes();
        on.forget();
        on.keep("db-c", before, &[relay_on()]);
        assert!(on.fresh("db-c").is_none(), "it may predate the command's change");
        on.keep("db-c", on.changes(), &[relay_on()]);
        assert!(on.fresh("db-c").is_some());
    }
}
