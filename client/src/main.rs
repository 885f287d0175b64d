//! `spindle`: parses the command line, runs it, and turns the outcome into one message
//! and an exit code (0 done, 1 failed, 2 invalid request, 3 stopped following).
use clap::Parser;
use spindle_client::{Cli, run};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // A trace of the client's steps on stderr, with the time since start, only when
    // RUST_LOG asks (e.g. RUST_LOG=spindle_client=debug): the normal output is the
    // messages below.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    if let Err(e) = run(cli).await {
        eprintln!("spindle: {e}");
        std::process::exit(e.exit_code());
    }
}
