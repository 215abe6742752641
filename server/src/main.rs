//! The `opsdeck` binary. Everything lives in the library (`server`), so tests can build the same app.

/// mimalloc rather than glibc malloc: glibc gives each thread that meets contention an arena of its own
/// and hands little of an arena's freed memory back, so under bursts of load the console's RSS climbed in
/// steps and stayed at its peak (the 1M soak in RELIABILITY.md: +11 MB in one step). mimalloc purges freed
/// pages after a short delay, so memory follows what the process actually holds.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::cli::run().await
}
