fn main() -> anyhow::Result<()> {
    anyhow::bail!("spindle-am is started by YARN, not by hand")
}
