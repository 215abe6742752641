//! The `opsdeck` binary. Everything lives in the library (`server`), so tests can build the same app.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::cli::run().await
}
