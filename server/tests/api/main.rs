//! Black-box tests of the console: each spawns the real application on port 0, over a database of its own
//! (`#[sqlx::test]` creates and migrates one per test), and talks to it over HTTP.

mod health;
mod helpers;
mod orders;
