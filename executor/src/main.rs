fn main() -> anyhow::Result<()> {
    anyhow::bail!("spindle-executor is started by the application master, not by hand")
}
