use clap::Parser;

/// Spindle: Spark-style data applications on an existing Hadoop cluster, without a JVM.
#[derive(Parser, Debug)]
#[command(name = "spindle", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
