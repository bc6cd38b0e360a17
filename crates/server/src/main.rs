//! `pillow-calendar`: the server binary and its operator commands.

use clap::Parser;
use pillow_server::cli::{Cli, run};
use pillow_server::{config, telemetry};

/// mimalloc: the default glibc allocator showed up at about 15 % of CPU under load, with lock
/// contention between worker threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    config::load_dotenv();
    telemetry::init_logging();
    let cli = Cli::parse();
    if let Err(error) = run(cli).await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
