//! `spindle`: parses the command line, runs it, and turns the outcome into one message
//! and an exit code (0 done, 1 failed, 2 invalid request, 3 stopped following).
use clap::Parser;
use spindle_client::{Cli, run};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("spindle: {e}");
        std::process::exit(e.exit_code());
    }
}
