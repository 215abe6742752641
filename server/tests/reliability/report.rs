//! How a suite leaves its figures: one line `[reliability] <JSON object>` on stderr, which
//! `scripts/reliability.sh` (running the tests with `--nocapture`) turns into `RELIABILITY.md`.

/// The smoke slice (`scripts/reliability.sh --quick`): fewer kills, shorter loops.
pub fn quick() -> bool {
    std::env::var("RELIABILITY_QUICK").is_ok_and(|v| v == "1")
}

/// Appends one suite's figures.
pub fn record(suite: &str, mut figures: serde_json::Value) {
    figures["suite"] = suite.into();
    eprintln!("[reliability] {figures}");
}

/// The suites stop and start services: refuse to run against the default stack, which others share.
pub fn require_own_stack() {
    let home = std::env::var("OPSDECK_HOME").unwrap_or_default();
    let default = format!("{}/.opsdeck", std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    assert!(
        !home.is_empty() && home.trim_end_matches('/') != default,
        "the reliability suites stop services: run them through scripts/reliability.sh on a stack of their own \
         (OPSDECK_HOME other than {default})"
    );
}
