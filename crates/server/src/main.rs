//! `pillow-calendar`: the server binary and its operator commands.

use clap::Parser;
use pillow_server::cli::{Cli, run};
use pillow_server::{config, telemetry};

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
