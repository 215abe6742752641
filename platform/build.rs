// `sqlx::migrate!` embeds the migrations at build time; without this, a new or changed migration would not
// rebuild the crate and tests would run against the old schema (sqlx's documented recommendation).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
