//! The reliability suites of issue 13 that need more than a database: real processes killed mid-batch,
//! services of the stack stopped and started under a signed-in session. They are `#[ignore]`d — they
//! stop services and take minutes — and run from `scripts/reliability.sh`, against a service stack of
//! their own (`OPSDECK_HOME` set, never the default one), which writes each suite's figures
//! ([`report::record`]) into `RELIABILITY.md`.

#[path = "../api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

mod crash;
mod outages;
mod report;
